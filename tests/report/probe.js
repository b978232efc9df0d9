// Added to a copy of a report page by tests/report/browser.py: measures what the browser laid out and painted.
(function () {
  "use strict";
  function box(element) {
    var rect = element.getBoundingClientRect();
    return [rect.left, rect.top, rect.right, rect.bottom];
  }
  // The four corners of a text's own box on the screen: a turned label is a turned rectangle.
  function corners(element) {
    var b = element.getBBox(), m = element.getScreenCTM();
    return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]].map(function (p) {
      return [m.a * p[0] + m.c * p[1] + m.e, m.b * p[0] + m.d * p[1] + m.f];
    });
  }
  // Separating axis test of two convex quadrilaterals, allowing half a pixel of contact.
  function overlap(a, b) {
    var quads = [a, b];
    for (var q = 0; q < 2; q++) {
      for (var i = 0; i < 4; i++) {
        var p = quads[q][i], r = quads[q][(i + 1) % 4];
        var nx = r[1] - p[1], ny = p[0] - r[0], length = Math.sqrt(nx * nx + ny * ny);
        if (!length) { continue; }
        nx /= length; ny /= length;
        var ranges = quads.map(function (quad) {
          var values = quad.map(function (c) { return c[0] * nx + c[1] * ny; });
          return [Math.min.apply(null, values), Math.max.apply(null, values)];
        });
        if (ranges[0][1] < ranges[1][0] + 0.5 || ranges[1][1] < ranges[0][0] + 0.5) { return false; }
      }
    }
    return true;
  }
  function role(element) {
    var node = element;
    while (node && node.getAttribute) {
      if (node.getAttribute("data-role")) { return node.getAttribute("data-role"); }
      node = node.parentNode;
    }
    return "";
  }
  var result = {page: {width: document.documentElement.scrollWidth, scripts: 0}, charts: {}};
  var svgs = Array.prototype.slice.call(document.querySelectorAll("svg"));
  svgs.forEach(function (svg) {
    var outer = box(svg);
    var texts = Array.prototype.map.call(svg.querySelectorAll("text"), function (element) {
      return {text: element.textContent, role: role(element), tick: element.getAttribute("data-tick") || "",
              box: box(element), corners: corners(element)};
    });
    var overlaps = [];
    for (var i = 0; i < texts.length; i++) {
      for (var j = i + 1; j < texts.length; j++) {
        if (overlap(texts[i].corners, texts[j].corners)) { overlaps.push([texts[i].text, texts[j].text]); }
      }
    }
    var outside = texts.filter(function (t) {
      return t.box[0] < outer[0] - 0.5 || t.box[2] > outer[2] + 0.5 || t.box[1] < outer[1] - 0.5 || t.box[3] > outer[3] + 0.5;
    }).map(function (t) { return t.text; });
    var bars = Array.prototype.map.call(svg.querySelectorAll("rect[data-count]"), function (rect) {
      return {
        series: rect.parentNode.getAttribute("data-series"), count: Number(rect.getAttribute("data-count")),
        low: Number(rect.getAttribute("data-low")), high: Number(rect.getAttribute("data-high")),
        key: rect.getAttribute("data-key"), box: box(rect)
      };
    });
    var lines = Array.prototype.map.call(svg.querySelectorAll("g[data-series] polyline"), function (line) {
      return {series: line.parentNode.getAttribute("data-series"), points: line.points.numberOfItems, box: box(line)};
    });
    var bands = Array.prototype.map.call(svg.querySelectorAll("g[data-series] polygon"), function (polygon) {
      return {series: polygon.parentNode.getAttribute("data-series"), points: polygon.points.numberOfItems,
              box: box(polygon)};
    });
    var markers = Array.prototype.map.call(svg.querySelectorAll("g[data-value]"), function (group) {
      var line = group.querySelector("line");
      var label = group.querySelector("text");
      return {role: group.getAttribute("data-role"), value: Number(group.getAttribute("data-value")),
              line: box(line), label: label ? label.textContent : "", labelBox: label ? box(label) : null};
    });
    result.charts[svg.id] = {
      box: outer, texts: texts, overlaps: overlaps, outside: outside, bars: bars, lines: lines, bands: bands, markers: markers,
      title: svg.querySelector("title").textContent, pixels: null
    };
  });
  var pending = svgs.length;
  function finish() {
    var pre = document.createElement("pre");
    pre.id = "report-probe";
    pre.textContent = JSON.stringify(result);
    document.body.appendChild(pre);
  }
  if (!pending) { finish(); }
  svgs.forEach(function (svg) {
    var image = new Image();
    var width = svg.viewBox.baseVal.width, height = svg.viewBox.baseVal.height;
    image.onload = function () {
      var canvas = document.createElement("canvas");
      canvas.width = width;
      canvas.height = height;
      var context = canvas.getContext("2d");
      context.drawImage(image, 0, 0, width, height);
      var data = context.getImageData(0, 0, width, height).data;
      var counts = {};
      for (var i = 0; i < data.length; i += 4) {
        var key = ((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]).toString(16).padStart(6, "0");
        counts[key] = (counts[key] || 0) + 1;
      }
      result.charts[svg.id].pixels = counts;
      if (--pending === 0) { finish(); }
    };
    image.onerror = function () {
      result.charts[svg.id].pixels = "error";
      if (--pending === 0) { finish(); }
    };
    image.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(new XMLSerializer().serializeToString(svg));
  });
})();

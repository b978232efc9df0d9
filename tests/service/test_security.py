"""TLS certificates are verified unless the user opts out, and files holding credentials are private (issue 6).

A local HTTPS server on 127.0.0.1 with a self-signed certificate made here
(a TLS ``FaultProxy`` in front of the test Entity Service, or of the S3 server)
must be refused, with one clear line, by the service commands and by the object
store upload, unless ``--insecure`` is given or the certificate is trusted
(``REQUESTS_CA_BUNDLE``). The files ``create-project -o`` and ``upload -o`` write
hold tokens: they are created readable and writable by their owner only, whatever
the umask.
"""

import datetime
import ipaddress
import json
import os
import ssl
import stat

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from anonlinkclient.service.rest_client import RestClient, TLSError, is_transient
from tests.entity_service.fault_proxy import FaultProxy
from tests.helpers import data, random_clks, run_anonlink, run_cli, write_clk_file
from tests.service.helpers import new_project


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and its key: ``(cert.pem, key.pem)`` paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anonlink test server")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def tls_proxy(certificate, port):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return FaultProxy("127.0.0.1", port, context).start()


@pytest.fixture
def https_service(entity_service, certificate):
    """The test Entity Service behind HTTPS with the self-signed certificate."""
    proxy = tls_proxy(certificate, entity_service.port)
    try:
        yield proxy
    finally:
        proxy.stop()


@pytest.fixture
def https_s3(s3_server, certificate):
    """The S3 server behind HTTPS with the self-signed certificate."""
    proxy = tls_proxy(certificate, s3_server.port)
    try:
        yield proxy
    finally:
        proxy.stop()


# ---- the Entity Service ----


def test_a_self_signed_certificate_is_refused(https_service):
    result = run_anonlink("status", "--server", https_service.url)
    assert result.returncode == 6
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: Getting the service status failed: TLS connection to the Entity Service at {https_service.url} "
        "failed (certificate verify failed: self-signed certificate)\n"
    )
    assert https_service.requests == []  # nothing was sent over the unverified connection

    with pytest.raises(TLSError) as caught:
        RestClient(https_service.url).server_get_status()
    assert not is_transient(caught.value)  # a watch would not keep asking


def test_insecure_opts_out_with_one_warning_line(https_service):
    # requests lets REQUESTS_CA_BUNDLE override a session's verify=False; --insecure must still work
    env = {"REQUESTS_CA_BUNDLE": requests.certs.where()}
    result = run_anonlink("status", "--server", https_service.url, "--insecure", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ok"
    assert result.stderr == f"Warning: not verifying the TLS certificate of {https_service.url} (--insecure)\n"
    (request,) = https_service.requests
    assert request.path == "/api/v1/status"


def test_a_trusted_certificate_is_accepted(https_service, certificate):
    result = run_cli("status", "--server", https_service.url, env={"REQUESTS_CA_BUNDLE": str(certificate[0])})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["status"] == "ok"
    assert result.stderr == ""


# ---- the object store ----


def test_the_object_store_certificate_is_verified_too(entity_service, https_s3, certificate, tmp_path):
    project = new_project(RestClient(entity_service.url))
    clks = random_clks(10)
    clk_file = write_clk_file(tmp_path / "clks.json", clks)
    command = ["upload", "--server", entity_service.url, "--project", project["project_id"], str(clk_file)]
    env = {"UPLOAD_OBJECT_STORE_SERVER": https_s3.url, "ANONLINK_APIKEY": project["update_tokens"][0]}

    result = run_cli(*command, env=env)
    assert result.exit_code == 7
    place = entity_service.project(project["project_id"]).parties[0].object_store_access["upload"]
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: Uploading {place['bucket']}/{place['path']}/encodings.bin on the object store at "
        f"{https_s3.endpoint} failed: TLS connection failed (certificate verify failed: self-signed certificate)"
    )
    assert https_s3.requests == []
    assert entity_service.requests_to("/clks") == []

    result = run_cli(*command, "--insecure", env=env)
    assert result.exit_code == 0, result.stderr
    assert "InsecureRequestWarning" not in result.stderr
    assert entity_service.uploads(project["project_id"])[0].clks == clks
    assert {r.method for r in https_s3.requests} == {"PUT"}

    other = new_project(RestClient(entity_service.url))  # trusted like the service's certificate would be
    command[command.index("--project") + 1] = other["project_id"]
    env.update(ANONLINK_APIKEY=other["update_tokens"][0], REQUESTS_CA_BUNDLE=str(certificate[0]))
    result = run_cli(*command, env=env)
    assert result.exit_code == 0, result.stderr
    assert entity_service.uploads(other["project_id"])[0].clks == clks


# ---- files that hold credentials ----


@pytest.fixture
def open_umask():
    """Run with umask 000, so that only the tool itself can make a file private."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


def test_create_project_credentials_are_owner_only_whatever_the_umask(entity_service, tmp_path, open_umask):
    output = tmp_path / "credentials.json"
    output.write_text("old")
    output.chmod(0o644)
    args = ["--server", entity_service.url, "--schema", data("good-schema-v3.json"), "-o", output]
    result = run_anonlink("create-project", *args)
    assert result.returncode == 0, result.stderr
    assert mode(output) == 0o600
    assert set(json.loads(output.read_text())) == {"project_id", "result_token", "update_tokens"}
    assert [p.name for p in tmp_path.iterdir()] == ["credentials.json"]  # no temporary file left


def test_upload_receipt_is_owner_only_whatever_the_umask(entity_service, tmp_path, open_umask):
    project = new_project(RestClient(entity_service.url))
    clk_file = write_clk_file(tmp_path / "clks.json", random_clks(5))
    receipt = tmp_path / "receipt.json"
    command = ["upload", "--server", entity_service.url, "--project", project["project_id"], clk_file, "-o", receipt]
    result = run_cli(*command, "--to_entityservice", env={"ANONLINK_APIKEY": project["update_tokens"][0]})
    assert result.exit_code == 0, result.stderr
    assert mode(receipt) == 0o600
    assert (
        json.loads(receipt.read_text())["receipt_token"]
        == entity_service.uploads(project["project_id"])[0].receipt_token
    )

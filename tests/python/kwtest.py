"""Test support for the Python client tests: a real keywardd on a temp dir
and Unix socket (as tests/interop/python/interop_test.py starts it), its
keystore on the test target's backend (kwstorage), optionally with a plaintext loopback TCP listener and a mutual-TLS
listener, and a small PKI for the latter. No mocks."""

import argparse
import datetime
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import grpc

import kwstorage

ARGS = argparse.Namespace(keywardd=None, flavor="openssl")
PASSPHRASE = b"python client test passphrase"


def parse_args():
    """--keywardd=PATH; the rest goes to unittest."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--keywardd", required=True)
    # The daemon's build flavor: "boringssl" has no TLS listeners.
    parser.add_argument("--flavor", default="openssl",
                        choices=["openssl", "boringssl"])
    args, rest = parser.parse_known_args()
    ARGS.keywardd = args.keywardd
    ARGS.flavor = args.flavor
    return [sys.argv[0]] + rest


def main():
    argv = parse_args()
    unittest.main(argv=argv, verbosity=2)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_secret(path, data):
    """Writes `data` to a new 0600 file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def _health_serving(target):
    with grpc.insecure_channel(target) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                    request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
        try:
            return check(b"", timeout=2) == b"\x08\x01"
        except grpc.RpcError:
            return False


class Daemon:
    """keywardd on a fresh data dir under /tmp (a socket path must fit in
    108 bytes). tcp: also a plaintext loopback listener (self.tcp_target);
    tls: also a mutual-TLS listener with make_pki()'s certificates
    (self.tls_target, self.pki)."""

    def __init__(self, tcp=False, tls=False, extra_config=""):
        self.binary = os.path.abspath(ARGS.keywardd)
        self.dir = tempfile.mkdtemp(prefix="kwpyc", dir="/tmp")
        self.socket = os.path.join(self.dir, "k.sock")
        self.target = "unix://" + self.socket
        self.passphrase_file = write_secret(
            os.path.join(self.dir, "passphrase"), PASSPHRASE + b"\n")
        self.data_dir = os.path.join(self.dir, "data")
        os.mkdir(self.data_dir, 0o700)
        storage = kwstorage.storage_config()
        config = [storage, 'audit { fsync: AUDIT_FSYNC_INTERVAL }',
                  extra_config]
        self.tcp_target = self.tls_target = None
        if tcp:
            self.tcp_target = "127.0.0.1:%d" % free_port()
            config.append('tcp_listeners { address: "%s" }' % self.tcp_target)
        self.pki = None
        if tls:
            self.pki = make_pki(os.path.join(self.dir, "pki"))
            self.tls_target = "127.0.0.1:%d" % free_port()
            config.append(
                'tcp_listeners { address: "%s" tls { cert_file: "%s" '
                'key_file: "%s" client_ca_file: "%s" require_client_cert: '
                'true } }' % (self.tls_target, self.pki["server_cert"],
                              self.pki["server_key"], self.pki["ca"]))
        self.config = os.path.join(self.dir, "keywardd.conf")
        with open(self.config, "w") as f:
            f.write("\n".join(config) + "\n")
        # init gets the storage only (the listeners are the daemon's).
        init_config = os.path.join(self.dir, "init.conf")
        with open(init_config, "w") as f:
            f.write(storage)
        init = subprocess.run(
            [self.binary, "init", "--config", init_config, "--data_dir",
             self.data_dir, "--passphrase_file", self.passphrase_file],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if init.returncode != 0:
            raise RuntimeError("keywardd init exited %d:\n%s" % (
                init.returncode, init.stdout.decode(errors="replace")))
        self.log_path = os.path.join(self.dir, "keywardd.log")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--config", self.config, "--data_dir",
             self.data_dir, "--passphrase_file", self.passphrase_file,
             "--socket", self.socket],
            stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_serving(timeout=60)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def _wait_serving(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("keywardd exited %d before serving:\n%s" % (
                    self.proc.returncode, self.output()))
            if os.path.exists(self.socket) and _health_serving(self.target):
                return
            time.sleep(0.1)
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("keywardd not SERVING after %ds:\n%s" % (
            timeout, self.output()))

    def stop(self):
        """SIGTERM (bounded), then removes the temp dir; AssertionError
        unless keywardd exits 0."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(30)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
                    raise AssertionError("keywardd ignored SIGTERM")
            self.log.close()
            if self.proc.returncode != 0:
                raise AssertionError("keywardd exited %d:\n%s" % (
                    self.proc.returncode, self.output()))
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            shutil.rmtree(self.dir, ignore_errors=True)


def make_pki(directory):
    """A CA, a server certificate for 127.0.0.1/localhost and a client
    certificate with URI SAN spiffe://test.example/ci, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    os.makedirs(directory, mode=0o700)
    now = datetime.datetime.now(datetime.timezone.utc)

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def cert(subject, key, issuer, issuer_key, sans, ca=False):
        builder = (x509.CertificateBuilder()
                   .subject_name(name(subject)).issuer_name(name(issuer))
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                                  critical=True))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans),
                                            critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def save(stem, key, certificate):
        paths = {}
        paths["key"] = write_secret(
            os.path.join(directory, stem + ".key"),
            key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))
        paths["cert"] = os.path.join(directory, stem + ".pem")
        with open(paths["cert"], "wb") as f:
            f.write(certificate.public_bytes(serialization.Encoding.PEM))
        return paths

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = save("ca", ca_key, cert("test CA", ca_key, "test CA", ca_key, None,
                                 ca=True))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = save("server", server_key, cert(
        "keywardd", server_key, "test CA", ca_key,
        [x509.DNSName("localhost"),
         x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]))
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = save("client", client_key, cert(
        "ci-client", client_key, "test CA", ca_key,
        [x509.UniformResourceIdentifier("spiffe://test.example/ci")]))
    return {"ca": ca["cert"], "server_cert": server["cert"],
            "server_key": server["key"], "client_cert": client["cert"],
            "client_key": client["key"]}

"""Fixture for the Python end-to-end tests (run with /usr/bin/python3).

    from berth_e2e import Server, Checker
    with Server() as srv:            # fresh data dir, free port, waits for /readyz
        t = Checker(__file__)
        t.eq(1, 1, "one is one")
    t.finish()                       # prints PASS/FAIL, exits non-zero on failure

Each test owns its server; stop() sends SIGTERM to that pid only and
SIGKILL after a grace period; the temp dir is removed on exit.
"""

import atexit
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request

E2E_DIR = os.environ.get("BERTH_E2E_DIR") or os.path.dirname(os.path.abspath(__file__))


def _find_berth():
    explicit = os.environ.get("BERTH_BIN")
    if explicit:
        return explicit
    for candidate in ("../../build-e2e/src/cmd/berth", "../../build/src/cmd/berth"):
        path = os.path.normpath(os.path.join(E2E_DIR, candidate))
        if os.access(path, os.X_OK):
            return path
    return "berth"


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One `berth server` child process on its own data dir and port."""

    def __init__(self, ready_timeout=60):
        self.binary = _find_berth()
        self.tmp = tempfile.mkdtemp(prefix="berth-e2e-py.")
        self.data_dir = os.path.join(self.tmp, "data")
        os.makedirs(self.data_dir)
        self.log_path = os.path.join(self.tmp, "server.log")
        self.port = _free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        self.kubeconfig = os.path.join(self.data_dir, "kubeconfig.yaml")
        self.ca = None
        self.proc = None
        self.ready_timeout = ready_timeout
        atexit.register(self.close)

    # -- lifecycle -------------------------------------------------------
    def start(self):
        # No agent runs pods unless a test asks for one (see lib.sh).
        extra = os.environ.get("E2E_SERVER_ARGS", "--disable-agent").split()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "server", "--data-dir", self.data_dir,
             "--listen", "127.0.0.1:%d" % self.port] + extra,
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + self.ready_timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("berth server exited with %s before becoming ready\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.kubeconfig) and self._find_ca():
                try:
                    ctx = ssl.create_default_context(cafile=self.ca)
                    with urllib.request.urlopen(self.url + "/readyz", context=ctx, timeout=2) as r:
                        if r.status == 200:
                            return self
                except Exception as e:  # not up yet
                    last = e
            time.sleep(0.1)
        raise RuntimeError("server not ready within %ss (last: %r)\n%s"
                           % (self.ready_timeout, last, self.log_tail()))

    def _find_ca(self):
        path = os.path.join(self.data_dir, "pki", "ca.crt")
        if os.path.exists(path) and os.path.getsize(path) > 0:
            self.ca = path
            return True
        # Fall back to the kubeconfig's embedded CA.
        import base64
        try:
            with open(self.kubeconfig) as f:
                for line in f:
                    if "certificate-authority-data:" in line:
                        pem = base64.b64decode(line.split(":", 1)[1].strip())
                        self.ca = os.path.join(self.tmp, "ca.crt")
                        with open(self.ca, "wb") as out:
                            out.write(pem)
                        return True
        except (OSError, ValueError):
            pass
        return False

    def stop(self, grace=20):
        """SIGTERM this server only, SIGKILL after `grace` seconds."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def kill9(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log_tail(self, lines=60):
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return "(no server log)"

    def close(self):
        self.stop()
        if os.environ.get("E2E_KEEP_TMP"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- clients ---------------------------------------------------------
    def api_client(self):
        """A kubernetes.client.ApiClient configured from the kubeconfig."""
        from kubernetes import client, config
        configuration = client.Configuration()
        config.load_kube_config(config_file=self.kubeconfig, client_configuration=configuration)
        return client.ApiClient(configuration)


class Checker:
    """Soft assertions: every failure is reported and counted."""

    def __init__(self, name):
        self.name = os.path.basename(name)
        self.checks = 0
        self.failures = 0

    def ok(self, cond, what, detail=""):
        self.checks += 1
        if cond:
            print("  ok   %s" % what, flush=True)
        else:
            self.failures += 1
            print("  FAIL %s%s" % (what, (": " + str(detail)[:1500]) if detail else ""), flush=True)
        return cond

    def eq(self, expected, actual, what):
        return self.ok(expected == actual, what, "expected %r, got %r" % (expected, actual))

    def raises(self, fn, status, what):
        """fn() must raise kubernetes ApiException with this HTTP status."""
        from kubernetes.client.rest import ApiException
        try:
            fn()
        except ApiException as e:
            return self.eq(status, e.status, what)
        except Exception as e:  # wrong exception type
            return self.ok(False, what, "raised %r" % e)
        return self.ok(False, what, "no exception")

    def step(self, what, fn):
        """Runs fn(); an exception counts as a failure and returns None."""
        try:
            result = fn()
            self.ok(True, what)
            return result
        except Exception as e:
            self.ok(False, what, "%s\n%s" % (e, traceback.format_exc(limit=3)))
            return None

    def wait_for(self, fn, what, timeout=30, interval=0.25):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                if fn():
                    return self.ok(True, what)
            except Exception as e:
                last = e
            time.sleep(interval)
        return self.ok(False, what, "not true within %ss (last error: %r)" % (timeout, last))

    def finish(self, server=None):
        if self.failures == 0:
            print("PASS: %s (%d checks)" % (self.name, self.checks), flush=True)
            sys.exit(0)
        if server is not None:
            print("---- server log tail ----\n%s----" % server.log_tail())
        print("FAIL: %s (%d of %d checks failed)" % (self.name, self.failures, self.checks), flush=True)
        sys.exit(1)


def main(test_fn, name):
    """Runs test_fn(server, checker) against a fresh server; PASS/FAIL exit."""
    t = Checker(name)
    srv = Server()
    try:
        srv.start()
    except Exception as e:
        t.ok(False, "server starts", e)
        t.finish(srv)
    try:
        test_fn(srv, t)
    except Exception as e:
        t.ok(False, "test body raised", "%s\n%s" % (e, traceback.format_exc()))
    finally:
        code = srv.stop()
        t.ok(code == 0, "server exits 0 on SIGTERM", "exit status %r" % code)
    t.finish(srv)

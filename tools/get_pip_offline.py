"""Offline stand-in for ansible-test's get-pip bootstrap script.

ansible-test (--venv, sanity) creates empty virtual environments and bootstraps
pip in them by running ~/.ansible/test/cache/get_pip_<X_Y>.py, which it
otherwise downloads from a host this machine cannot reach. tests/run copies this
file there, and puts pip's wheel for version X.Y (downloaded once from PyPI)
next to it.

ansible-test runs it through its quiet_pip.py wrapper (runpy, as __main__) like
upstream get-pip.py:

    python quiet_pip.py --disable-pip-version-check pip==24.2 --no-setuptools --no-wheel

so this honours the same interface: --no-setuptools / --no-wheel are flags of
the script, everything else goes to `pip install --upgrade --force-reinstall`,
with the `pip` requirement replaced by the local wheel. pip is imported from the
wheel itself (a wheel is a zip, importable from sys.path), as get-pip.py does.
"""

import glob
import os
import pkgutil
import re
import sys
import tempfile


def _here():
    return os.path.dirname(os.path.abspath(__file__))


def _wheel():
    # The pip version is in our own file name: get_pip_24_2.py -> 24.2.
    match = re.search(r'get_pip_([0-9_]+)\.py$', os.path.basename(__file__))
    version = match.group(1).replace('_', '.') if match else '*'
    found = sorted(glob.glob(os.path.join(_here(), 'pip-%s-py3-none-any.whl' % version)))
    if not found:
        sys.exit('get_pip offline: no pip %s wheel in %s (tests/run downloads it)' % (version, _here()))
    return found[-1]


def _is_pip_requirement(arg):
    return re.match(r'^pip\s*([<>=!~].*)?$', arg) is not None


def _use_bundled_cert(tmpdir):
    # certifi cannot read its bundle from inside a zip; extract it (as get-pip.py
    # does) so that fetching extra packages from an index still verifies TLS.
    from pip._internal.commands.install import InstallCommand

    cert_path = os.path.join(tmpdir, 'cacert.pem')
    with open(cert_path, 'wb') as cert:
        cert.write(pkgutil.get_data('pip._vendor.certifi', 'cacert.pem'))
    original = InstallCommand.parse_args

    def parse_args(self, args):
        if not self.parser.get_default_values().cert:
            self.parser.defaults['cert'] = cert_path
        return original(self, args)

    InstallCommand.parse_args = parse_args


def main():
    wheel = _wheel()
    args = sys.argv[1:]
    extra = []
    if '--no-setuptools' in args:
        args = [a for a in args if a != '--no-setuptools']
    else:
        extra.append('setuptools')
    if '--no-wheel' in args:
        args = [a for a in args if a != '--no-wheel']
    else:
        extra.append('wheel')

    args = [wheel if _is_pip_requirement(a) else a for a in args]
    if wheel not in args:
        args.append(wheel)
    args += [e for e in extra if e not in args]
    # Only the local wheel to install: no index needed at all.
    if all(a == wheel or a.startswith('-') for a in args):
        args.insert(0, '--no-index')

    sys.path.insert(0, wheel)
    from pip._internal.cli.main import main as pip_main

    with tempfile.TemporaryDirectory(prefix='get-pip-') as tmpdir:
        _use_bundled_cert(tmpdir)
        return pip_main(['install', '--upgrade', '--force-reinstall'] + args)


if __name__ == '__main__':
    sys.exit(main())

# Copyright (c) nsops.namespaces contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""antsibull-nox sessions (configured in antsibull-nox.toml); tests/run lint runs the
ones that work offline here: nox -e extra-checks docs-check."""

import nox

nox.needs_version = ">=2025.02.09"

try:
    import antsibull_nox
except ImportError:
    print("You need to install antsibull-nox in the same Python environment as nox.")
    raise

antsibull_nox.load_antsibull_nox_toml()

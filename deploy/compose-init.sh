#!/usr/bin/env bash
# Prepares compose.yaml's three offices, once (running it again changes
# nothing that exists): root credentials and the offices' peer IDs in .env,
# the shared private-network key in swarm.key. Then: docker compose up -d
set -euo pipefail
umask 077
cd "$(dirname "$0")"
offices=(berlin austin tokyo)
image=s3mesh:local

touch .env
chmod 600 .env
has() { grep -q "^$1=." .env; }
put() { # put KEY VALUE: set KEY in .env, replacing an earlier value
  { grep -v "^$1=" .env || true; echo "$1=$2"; } > .env.tmp
  mv .env.tmp .env
}
random() { # random N ALPHABET
  head -c 4096 /dev/urandom | LC_ALL=C tr -dc "$2" | cut -c "1-$1"
}

# 1. Root credentials, the same for the three demo offices (real offices
#    each have their own).
if ! has S3MESH_ACCESS_KEY || ! has S3MESH_SECRET_KEY; then
  put S3MESH_ACCESS_KEY "$(random 20 'A-Z0-9')"
  put S3MESH_SECRET_KEY "$(random 40 'A-Za-z0-9')"
fi

# 2. The image, and the private-network key all offices share. The nodes
#    run as a non-root user and read it through a bind mount: it must be
#    readable by them. Keep it out of version control (.gitignore).
docker compose build
if [[ ! -s swarm.key ]]; then
  docker run --rm "$image" swarm-key > swarm.key.tmp
  mv swarm.key.tmp swarm.key
fi
chmod 644 swarm.key

# 3. Each office's identity, created in its data volume by "s3mesh id",
#    which prints the peer ID on its first line.
for office in "${offices[@]}"; do
  out=$(docker compose run --rm --no-deps -T "$office" id)
  id=${out%%$'\n'*}
  [[ $id == 12D3KooW* ]] || { echo "compose-init: $office: unexpected output of s3mesh id: $out" >&2; exit 1; }
  put "${office^^}_ID" "$id"
  echo "$office: $id"
done

echo "Ready: docker compose up -d   (S3 credentials in $(pwd)/.env)"

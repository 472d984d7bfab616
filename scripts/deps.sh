#!/bin/sh
# Installs (as root) or names the Debian packages minnow needs.
# usage: deps.sh build|test
set -e
pkgs="make gcc pkg-config protobuf-c-compiler libprotobuf-c-dev libonnx-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev libcjson-dev dataset-fashion-mnist"
if [ "$1" = test ]; then
  pkgs="$pkgs clang libclang-rt-dev libonnx-testdata valgrind python3"
fi
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "minnow: installing Debian packages:$missing" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq $missing >/dev/null
else
  echo "minnow: missing Debian packages. Run:" >&2
  echo "  sudo apt-get install -y$missing" >&2
  exit 1
fi

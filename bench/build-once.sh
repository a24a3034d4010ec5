#!/usr/bin/env bash
# Release (musl) build cost: the dependency graph once, then each function
# crate with its fat-LTO link, from a clean target dir; and the Lambda
# feature's cost in binary size. CPU seconds (user+sys) are reported beside
# wall time because they hold when other work shares the machine.
# Usage: bench/build-once.sh  (writes nothing outside $T)
set -u
cd "$(dirname "$0")/.."
T=${T:-/tmp/rel-measure}; rm -rf $T; mkdir -p $T
FUNCS="cities-list travels-list travels-book users-profile-get notifications-list"
TGT=x86_64-unknown-linux-musl
t() { /usr/bin/time -f "%e s wall, %U+%S s cpu" "$@"; }
echo "== D: the dependency graph + shared, release, from clean"
CARGO_TARGET_DIR=$T nice -n 10 /usr/bin/time -f "D %e wall %U user %S sys" cargo build -q --release --locked --target $TGT -p shared 2>&1 | tail -1
for f in $FUNCS; do
  echo "== L($f): the function crate + its fat-LTO link, on the warm graph"
  CARGO_TARGET_DIR=$T nice -n 10 /usr/bin/time -f "L $f %e wall %U user %S sys" cargo build -q --release --locked --target $TGT -p $f --bin $f 2>&1 | tail -1
  ls -l $T/$TGT/release/$f | awk '{print "size", $5}'
done
echo "== cities-list with --features lambda"
cp $T/$TGT/release/cities-list $T/cities-list.knative
CARGO_TARGET_DIR=$T nice -n 10 /usr/bin/time -f "L cities-list+lambda %e wall %U user %S sys" cargo build -q --release --locked --target $TGT -p cities-list --features lambda --bin cities-list 2>&1 | tail -1
ls -l $T/cities-list.knative $T/$TGT/release/cities-list
echo DONE

#!/usr/bin/env bash
# tests/install.sh BUILD_DIR CC: installs the build into a temporary prefix and builds and runs a
# small C program against the installed copy only, both ways a C project would: pkg-config
# (orl.pc, shared library) and CMake (find_package(orl), orl::orl and orl::orl_static). Also
# checks the program and the bash completion are installed. No path into the source or build
# tree is given to the program's compiler.
# (grep without -q: with -q it stops reading at the first match, and under pipefail the
# writer's SIGPIPE would fail the line at random)
set -euo pipefail
build=${1:?usage: install.sh BUILD_DIR CC}
cc=${2:-cc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null

test -x "$prefix/bin/orl"
"$prefix/bin/orl" --version | grep '^orl [0-9]' >/dev/null
test -f "$prefix/share/bash-completion/completions/orl"
bash -n "$prefix/share/bash-completion/completions/orl"
pc=$(dirname "$(find "$prefix" -name orl.pc | head -1)")
test -n "$pc"

cat > "$tmp/app.c" <<'C'
/* the installed library, used as a program would: 200 steps of CartPole with a builtin policy */
#include <orl/orl.h>
#include <stdio.h>

int main(void) {
    orl_env *env = NULL;
    orl_policy *p = NULL;
    if (orl_env_make("CartPole-v1", &env) != ORL_OK) return 1;
    if (orl_policy_open("builtin:CartPole-v1/expert", &p) != ORL_OK) return 1;
    orl_rollout_summary sum;
    if (orl_eval(p, "CartPole-v1", 3, 7, ORL_POLICY_MODE_MEAN, &sum, NULL) != ORL_OK) return 1;
    printf("mean return %.1f over %lld episodes\n", sum.return_mean, (long long)sum.n_episodes);
    orl_policy_free(p);
    orl_env_free(env);
    return sum.return_mean > 100.0 ? 0 : 1;
}
C

# pkg-config, the shared library
flags=$(PKG_CONFIG_PATH=$pc pkg-config --cflags --libs orl)
case "$flags" in *"$build"*) echo "pkg-config points into the build tree: $flags"; exit 1 ;; esac
"$cc" -std=c11 -Wall -Werror "$tmp/app.c" -o "$tmp/app-pc" $flags
libdir=$(PKG_CONFIG_PATH=$pc pkg-config --variable=libdir orl)
LD_LIBRARY_PATH=$libdir "$tmp/app-pc" | grep 'mean return' >/dev/null
LD_LIBRARY_PATH=$libdir ldd "$tmp/app-pc" | grep "$prefix" >/dev/null || { echo "app-pc does not use the installed liborl.so"; exit 1; }

# CMake: find_package(orl), shared and static
mkdir -p "$tmp/proj"
cp "$tmp/app.c" "$tmp/proj/app.c"
cat > "$tmp/proj/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(app C)
find_package(orl 0 REQUIRED)
add_executable(app_shared app.c)
target_link_libraries(app_shared orl::orl)
add_executable(app_static app.c)
target_link_libraries(app_static orl::orl_static)
CM
cmake -S "$tmp/proj" -B "$tmp/proj/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$tmp/proj/build" >/dev/null
"$tmp/proj/build/app_static" | grep 'mean return' >/dev/null
"$tmp/proj/build/app_shared" | grep 'mean return' >/dev/null
echo "install: pkg-config and CMake builds against $prefix run"

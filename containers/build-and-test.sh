#!/usr/bin/env bash
# Build the heterofem image with Podman, test it, and check it reproduces a host run.
#
#   containers/build-and-test.sh [--fresh]
#
# Steps (each timed; logs in $WORK/logs):
#   1. tools: podman, buildah, runc (and debootstrap when the base image has to be made);
#      as root on Debian/Ubuntu, missing ones are installed with apt-get; check_pins.py
#   2. base image $BASE_IMAGE (debian:trixie): used if present; otherwise pulled when
#      BASE_FROM=pull, else made with debootstrap (minbase, $SUITE) and `podman import`ed
#   3. podman build --target runtime -> $IMAGE (the pip steps get $CA_BUNDLE as a build secret)
#   4. podman build --target test    -> $IMAGE-test (pytest -m "not mpi" + one mpirun test,
#      run inside the image during the build)
#   5. buildah run: heterofem run $PROBLEM serially and under mpirun -n 2 inside the image
#   6. the same problem on the host (.venv via scripts/bootstrap.sh; HOST_HETEROFEM=cmd
#      to use another heterofem)
#   7. containers/compare_summaries.py: host vs container (rel 1e-8), container serial vs
#      2 ranks (the MPI test's tolerance, rel 1e-9)
#   8. with OCI_ARCHIVE=FILE: podman save --format oci-archive (what apptainer.def builds from)
#
# --fresh: remove the images, the cached layers and the debootstrap rootfs first, and build
# with --no-cache (the "from a clean state" run). Settings (environment variables):
#   BASE_IMAGE=debian:trixie  SUITE=trixie  DEBIAN_MIRROR=http://deb.debian.org/debian
#   ROOTFS=/var/tmp/heterofem-rootfs-$SUITE  BASE_FROM=debootstrap|pull
#   IMAGE=heterofem:latest  PROBLEM=problems/tio2_vo2_tio2_001_1d.toml
#   CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt (if it exists; "" for none)
#   PIP_INDEX_URL, PIP_EXTRA_INDEX_URL (passed as build args when set)
#   OCI_ARCHIVE (e.g. containers/heterofem.oci.tar; unset: not saved)
#   PODMAN_BUILD_ARGS (extra podman build options, e.g. "-v /opt/pypi:/opt/pypi:ro" for a
#   file:// index), ISOLATION=chroot, RUNTIME=runc, WORK=$(mktemp -d), SKIP_TESTS=1
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

FRESH=0
for a in "$@"; do
    case $a in
        --fresh) FRESH=1 ;;
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        *) echo "build-and-test: unknown argument $a (try --help)" >&2; exit 2 ;;
    esac
done

BASE_IMAGE=${BASE_IMAGE:-debian:trixie}
SUITE=${SUITE:-trixie}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
ROOTFS=${ROOTFS:-/var/tmp/heterofem-rootfs-$SUITE}
BASE_FROM=${BASE_FROM:-debootstrap}
IMAGE=${IMAGE:-heterofem:latest}
TEST_IMAGE=${TEST_IMAGE:-${IMAGE%%:*}:test}
PROBLEM=${PROBLEM:-problems/tio2_vo2_tio2_001_1d.toml}
ISOLATION=${ISOLATION:-chroot}
RUNTIME=${RUNTIME:-runc}
if [ -z "${CA_BUNDLE+x}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
    CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
fi
CA_BUNDLE=${CA_BUNDLE:-}
WORK=${WORK:-$(mktemp -d /tmp/heterofem-containers.XXXXXX)}
LOGS=$WORK/logs
mkdir -p "$LOGS"

T0=$(date +%s)
TIMES=()
step() { echo; echo "== $* ($(date +%T))"; STEP_NAME=$*; STEP_T=$(date +%s); }
done_step() { local s=$(( $(date +%s) - STEP_T )); TIMES+=("$(printf '%4d s  %s' "$s" "$STEP_NAME")"); echo "   done in ${s} s"; }
fail() { echo "build-and-test: FAILED: $*" >&2; echo "logs: $LOGS" >&2; exit 1; }
# run a logged command; on failure show the end of its log
logged() { local log=$1; shift; if ! "$@" >"$log" 2>&1; then tail -n 60 "$log" >&2; fail "$* (log: $log)"; fi; }

CTRS=()
cleanup() { for c in "${CTRS[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT

# ---- 1. tools --------------------------------------------------------------------------------
step "tools"
need=()
for t in podman buildah; do command -v $t >/dev/null || need+=("$t"); done
command -v "$RUNTIME" >/dev/null || need+=("$RUNTIME")
base_exists() { podman image exists "$BASE_IMAGE" 2>/dev/null; }
if [ $FRESH = 1 ] || { command -v podman >/dev/null && ! base_exists; } || ! command -v podman >/dev/null; then
    [ "$BASE_FROM" = debootstrap ] && ! command -v debootstrap >/dev/null && need+=(debootstrap)
fi
if [ ${#need[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing with apt-get: ${need[*]}"
        logged "$LOGS/apt.log" sh -c "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y ${need[*]}"
    else
        fail "missing tools: ${need[*]} (install them, e.g. apt-get install ${need[*]})"
    fi
fi
podman --version; buildah --version
python3 containers/check_pins.py || fail "containers/environment.yml is out of step with constraints.txt"
done_step

# ---- 2. base image ---------------------------------------------------------------------------
if [ $FRESH = 1 ]; then
    step "fresh: removing $IMAGE, $TEST_IMAGE, $BASE_IMAGE, cached layers and $ROOTFS"
    for c in $(buildah containers -q 2>/dev/null); do buildah rm "$c" >/dev/null 2>&1 || true; done
    podman rmi -f "$IMAGE" "$TEST_IMAGE" "$BASE_IMAGE" >/dev/null 2>&1 || true
    podman image prune -f >/dev/null 2>&1 || true
    rm -rf "$ROOTFS"
    done_step
fi

if base_exists; then
    echo; echo "== base image $BASE_IMAGE present: $(podman image inspect -f '{{.Id}}' "$BASE_IMAGE" | cut -c1-12)"
elif [ "$BASE_FROM" = pull ]; then
    step "pull $BASE_IMAGE"
    logged "$LOGS/pull.log" podman pull "docker.io/library/$BASE_IMAGE"
    podman tag "docker.io/library/$BASE_IMAGE" "$BASE_IMAGE"
    done_step
else
    if [ ! -x "$ROOTFS/usr/bin/apt-get" ]; then
        step "debootstrap --variant=minbase $SUITE $ROOTFS"
        rm -rf "$ROOTFS"
        logged "$LOGS/debootstrap.log" debootstrap --variant=minbase "$SUITE" "$ROOTFS" "$DEBIAN_MIRROR"
        rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/lib/apt/lists/*
        done_step
    fi
    step "podman import $ROOTFS as $BASE_IMAGE"
    tar -C "$ROOTFS" --numeric-owner -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >"$LOGS/import.log" 2>&1 \
        || { cat "$LOGS/import.log" >&2; fail "podman import"; }
    done_step
fi

# ---- 3./4. build -----------------------------------------------------------------------------
COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ "$COMMIT" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
    COMMIT=$COMMIT-dirty
fi
STACK=$(grep -i -E '^(dolfinx-solver-real|fenics-basix|fenics-ffcx|fenics-ufl|petsc4py|mpich|mpi4py|gmsh|numpy|pyvista|vtk)==' constraints.txt | tr '\n' ' ' | sed 's/ $//')
BUILD=(podman build --isolation "$ISOLATION" --runtime "$RUNTIME" --network host
       -f containers/Dockerfile --ignorefile containers/Dockerfile.dockerignore
       --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "GIT_COMMIT=$COMMIT" --build-arg "STACK=$STACK")
[ -n "$CA_BUNDLE" ] && BUILD+=(--secret "id=ca_bundle,src=$CA_BUNDLE")
[ -n "${PIP_INDEX_URL:-}" ] && BUILD+=(--build-arg "PIP_INDEX_URL=$PIP_INDEX_URL")
[ -n "${PIP_EXTRA_INDEX_URL:-}" ] && BUILD+=(--build-arg "PIP_EXTRA_INDEX_URL=$PIP_EXTRA_INDEX_URL")
[ $FRESH = 1 ] && BUILD+=(--no-cache)
# shellcheck disable=SC2206
[ -n "${PODMAN_BUILD_ARGS:-}" ] && BUILD+=($PODMAN_BUILD_ARGS)

step "build $IMAGE (target runtime, commit $COMMIT)"
logged "$LOGS/build-runtime.log" "${BUILD[@]}" --target runtime -t "$IMAGE" .
done_step
podman image inspect -f '{{index .Labels "org.opencontainers.image.revision"}}' "$IMAGE" | sed 's/^/   label revision: /'
echo "   size: $(podman image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"

if [ "${SKIP_TESTS:-0}" != 1 ]; then
    step "build $TEST_IMAGE (target test: the test suite inside the image)"
    # the layers up to runtime come from the cache of the step before (even with --fresh)
    TEST_BUILD=()
    for a in "${BUILD[@]}"; do [ "$a" = --no-cache ] || TEST_BUILD+=("$a"); done
    logged "$LOGS/build-test.log" "${TEST_BUILD[@]}" --target test -t "$TEST_IMAGE" .
    grep -E '^[0-9]+ passed|passed' "$LOGS/build-test.log" | sed 's/^/   /' | tail -n 2
    done_step
fi

# ---- 5. a problem inside the image -----------------------------------------------------------
step "run $PROBLEM inside $IMAGE (serial and mpirun -n 2, buildah run)"
OUT=$WORK/out
mkdir -p "$OUT"; chmod 0777 "$OUT"
ctr=$(buildah from --pull-never "$IMAGE"); CTRS+=("$ctr")
RUN=(buildah run --isolation "$ISOLATION" --runtime "$RUNTIME" --user heterofem
     -v "$REPO/problems:/problems:ro" -v "$OUT:/out" "$ctr" --)
pfile=/problems/${PROBLEM#problems/}
logged "$LOGS/container-run.log" "${RUN[@]}" heterofem run "$pfile" --out /out/container
logged "$LOGS/container-mpirun.log" "${RUN[@]}" mpirun -n 2 heterofem run "$pfile" --out /out/container-np2
"${RUN[@]}" cat /opt/heterofem/VERSIONS > "$WORK/VERSIONS"
grep -E '^(git_commit|base_image|python|dolfinx|petsc|mpi):' "$WORK/VERSIONS" | sed 's/^/   /'
done_step

# ---- 6. the same problem on the host ---------------------------------------------------------
step "run $PROBLEM on the host"
if [ -n "${HOST_HETEROFEM:-}" ]; then
    read -r -a HOSTCMD <<<"$HOST_HETEROFEM"
elif scripts/bootstrap.sh >"$LOGS/bootstrap.log" 2>&1; then   # a no-op when .venv is current
    HOSTCMD=(.venv/bin/heterofem)
elif python3 -c 'import heterofem.solver.cli' 2>/dev/null; then
    HOSTCMD=(python3 -m heterofem.solver.cli)
else
    fail "no host heterofem: scripts/bootstrap.sh failed (log: $LOGS/bootstrap.log)"
fi
logged "$LOGS/host-run.log" "${HOSTCMD[@]}" run "$PROBLEM" --out "$OUT/host"
done_step

# ---- 7. compare --------------------------------------------------------------------------------
step "compare summary.json scalars"
py=$(command -v python3 || echo .venv/bin/python)
"$py" containers/compare_summaries.py "$OUT/host/summary.json" "$OUT/container/summary.json" \
    || fail "host and container runs differ"
"$py" containers/compare_summaries.py --rel 1e-9 --ignore mpi_size \
    "$OUT/container/summary.json" "$OUT/container-np2/summary.json" \
    || fail "serial and mpirun -n 2 runs inside the container differ"
for f in host container; do
    "$py" -c 'import json,sys; s=json.load(open(sys.argv[1])); print("   %-9s python %s, dolfinx %s, petsc %s, %s" % (sys.argv[2], s.get("python_version"), s.get("dolfinx_version"), s.get("petsc_version"), "converged" if s.get("converged") else "NOT converged"))' \
        "$OUT/$f/summary.json" "$f"
done
done_step

if [ -n "${OCI_ARCHIVE:-}" ]; then
    step "podman save --format oci-archive -o $OCI_ARCHIVE"
    rm -f "$OCI_ARCHIVE"
    logged "$LOGS/save.log" podman save --format oci-archive -o "$OCI_ARCHIVE" "$IMAGE"
    ls -l "$OCI_ARCHIVE" | awk '{printf "   %.0f MB\n", $5/1e6}'
    done_step
fi

echo
echo "== build-and-test: OK in $(( $(date +%s) - T0 )) s"
printf '   %s\n' "${TIMES[@]}"
echo "   outputs: $OUT   logs: $LOGS   versions: $WORK/VERSIONS"

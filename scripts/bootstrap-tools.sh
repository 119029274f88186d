#!/usr/bin/env bash
# Installs the npm-packaged emulators into .tools/ (not committed): Azurite, the Azure
# Storage emulator. (DynamoDB is embedded: devstack/dynamodb, on moto, from the venv.)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools
cd .tools
rm -rf dynamodb-local  # Amazon's DynamoDB Local, which earlier versions installed here
if [ ! -x node_modules/.bin/azurite ]; then
  [ -f package.json ] || echo '{"private": true}' > package.json
  npm install --silent --no-audit --no-fund azurite@3.37.0 >/dev/null
fi

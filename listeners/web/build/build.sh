#!/usr/bin/env bash
# Builds listeners/web/dist/mqtt.min.js, the MQTT.js browser bundle the
# diagnostic page loads: an IIFE that defines the global `mqtt`.
# The output is committed, so `go build` never needs npm; run this after
# changing the pinned versions in package.json (npm install, then commit
# package-lock.json and dist/mqtt.min.js).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

npm ci --no-audit --no-fund --loglevel=error
version=$(node -p 'require("mqtt/package.json").version')
npx --no-install esbuild entry.js \
	--bundle \
	--platform=browser \
	--format=iife \
	--global-name=mqtt \
	--target=es2020 \
	--minify \
	--legal-comments=eof \
	--banner:js="/* MQTT.js ${version} (MIT, https://github.com/mqttjs/MQTT.js), bundled by listeners/web/build/build.sh */" \
	--log-level=warning \
	--outfile=../dist/mqtt.min.js
# MQTT.js's MIT license travels with the committed bundle.
cp node_modules/mqtt/LICENSE.md ../dist/mqtt.LICENSE.md
ls -l ../dist/

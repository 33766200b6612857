#!/usr/bin/env bash
# Builds listeners/web/dist/mqtt.min.js, the MQTT.js browser bundle the
# diagnostic page loads: an IIFE that defines the global `mqtt`; and
# dist/uplot.min.js + dist/uplot.min.css, the uPlot charts of the
# operator dashboard (an IIFE that defines the global `uPlot`).
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

uversion=$(node -p 'require("uplot/package.json").version')
npx --no-install esbuild uplot-entry.js \
	--bundle \
	--platform=browser \
	--format=iife \
	--global-name=uPlot \
	--target=es2020 \
	--minify \
	--legal-comments=eof \
	--banner:js="/* uPlot ${uversion} (MIT, https://github.com/leeoniya/uPlot), bundled by listeners/web/build/build.sh */" \
	--log-level=warning \
	--outfile=../dist/uplot.min.js
npx --no-install esbuild node_modules/uplot/dist/uPlot.min.css \
	--minify \
	--banner:css="/* uPlot ${uversion} (MIT, https://github.com/leeoniya/uPlot) */" \
	--log-level=warning \
	--outfile=../dist/uplot.min.css
cp node_modules/uplot/LICENSE ../dist/uplot.LICENSE
ls -l ../dist/

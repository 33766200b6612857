// Entry of the browser bundle. It is CommonJS so that esbuild's IIFE
// (--global-name=mqtt) makes the global `mqtt` the MQTT.js object itself
// (mqtt.connect, mqtt.connectAsync, mqtt.MqttClient, ...), as MQTT.js's
// own browser build does. The module is MQTT.js's browser build
// (dist/mqtt.esm.js: Node built-ins polyfilled), whose only export is
// that object as default.
module.exports = require('mqtt/dist/mqtt.esm').default;

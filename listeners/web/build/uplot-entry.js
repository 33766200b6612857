// Entry of the uPlot browser bundle the dashboard loads (../dist/uplot.min.js):
// CommonJS, so that esbuild's IIFE (--global-name=uPlot) makes the global
// `uPlot` the chart constructor itself, as uPlot's own IIFE build does.
module.exports = require('uplot/dist/uPlot.cjs.js');

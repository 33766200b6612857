package main

import (
	"fmt"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"edgemq/configs"
)

// newLogger builds the zap logger described by c, writing to standard
// error. The caller owns it: it is passed down, never made global.
func newLogger(c configs.Log) (*zap.Logger, error) {
	return newLoggerTo(c, zapcore.Lock(os.Stderr))
}

// newLoggerTo is newLogger writing to w.
func newLoggerTo(c configs.Log, w zapcore.WriteSyncer) (*zap.Logger, error) {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("parsing log level: %w", err)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	enc.EncodeDuration = zapcore.StringDurationEncoder
	var encoder zapcore.Encoder
	switch c.Format {
	case "json":
		encoder = zapcore.NewJSONEncoder(enc)
	case "console":
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	default:
		return nil, fmt.Errorf("building logger: unknown log format %q (want console or json)", c.Format)
	}
	core := zapcore.NewCore(encoder, w, level)
	return zap.New(core, zap.ErrorOutput(w)), nil
}

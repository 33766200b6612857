package cluster

import (
	"errors"
	"fmt"

	"go.uber.org/zap"
)

// natsLogger sends the embedded NATS server's log lines through zap, as
// "nats server" messages with the server's text in the detail field.
// The server's fatal errors are logged at error (it must not exit the
// process) and the first one is kept for StartEmbedded to return.
type natsLogger struct {
	log *zap.Logger
	// fatal receives the first fatal error; buffered, never blocks.
	fatal chan error
}

func newNATSLogger(log *zap.Logger) *natsLogger {
	return &natsLogger{log: log, fatal: make(chan error, 1)}
}

const natsLogMsg = "nats server"

// Noticef logs at info.
func (l *natsLogger) Noticef(format string, v ...any) {
	l.log.Info(natsLogMsg, zap.String("detail", fmt.Sprintf(format, v...)))
}

// Warnf logs at warn.
func (l *natsLogger) Warnf(format string, v ...any) {
	l.log.Warn(natsLogMsg, zap.String("detail", fmt.Sprintf(format, v...)))
}

// Fatalf logs at error and records the error; the server stops itself.
func (l *natsLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	l.log.Error(natsLogMsg, zap.String("detail", msg), zap.Bool("fatal", true))
	select {
	case l.fatal <- errors.New(msg):
	default:
	}
}

// Errorf logs at error.
func (l *natsLogger) Errorf(format string, v ...any) {
	l.log.Error(natsLogMsg, zap.String("detail", fmt.Sprintf(format, v...)))
}

// Debugf logs at debug.
func (l *natsLogger) Debugf(format string, v ...any) {
	if ce := l.log.Check(zap.DebugLevel, natsLogMsg); ce != nil {
		ce.Write(zap.String("detail", fmt.Sprintf(format, v...)))
	}
}

// Tracef logs at debug; the server only traces when asked to.
func (l *natsLogger) Tracef(format string, v ...any) { l.Debugf(format, v...) }

package postgres

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"tokenflow/store"
)

// unavailable classifies err once for the whole backend: a server that
// cannot be reached or dropped the connection, one shutting down or
// terminating our backend (class 57P), one out of disk or resources (class
// 53) or refusing connections (class 08) means the database is out of
// service, not that the request or the code is wrong. Those wrap
// store.ErrUnavailable; anything else is returned as it is.
func unavailable(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		code := pgErr.Code
		if strings.HasPrefix(code, "08") || strings.HasPrefix(code, "53") || strings.HasPrefix(code, "57P") {
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
		return err
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || isClosedConn(err) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// isClosedConn: pgx reports use of a connection the server closed with an
// unexported error whose text is all there is to go by.
func isClosedConn(err error) bool {
	return strings.Contains(err.Error(), "conn closed")
}

package store

// TimelineRows are the rows of a backend's SessionTimeline statement
// (*sql.Rows, pgx.Rows).
type TimelineRows interface {
	Next() bool
	Err() error
}

// CollectTimeline gathers a SessionTimeline answer from rows that each
// carry the session and at most one event (a LEFT JOIN of the session and
// its events): scan reads the current row and returns its event, nil for
// the row of a session without events. ErrNotFound when there is no row.
// It is the backends' one reading of that shape; the errors of scan and
// rows come back unwrapped.
func CollectTimeline(rows TimelineRows, scan func() (Session, *Event, error)) (Session, []Event, error) {
	var (
		sess   Session
		found  bool
		events []Event
	)
	for rows.Next() {
		s, e, err := scan()
		if err != nil {
			return Session{}, nil, err
		}
		sess, found = s, true
		if e != nil {
			events = append(events, *e)
		}
	}
	if err := rows.Err(); err != nil {
		return Session{}, nil, err
	}
	if !found {
		return Session{}, nil, ErrNotFound
	}
	return sess, events, nil
}

package sqlite

import "time"

func defaultNow() time.Time { return time.Now() }

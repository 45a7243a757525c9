// Package audit appends entries to the store's audit log on behalf of every
// part of the service (HTTP handlers, the detection pipeline, scheduled work).
package audit

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/firebreak-msp/firebreak/internal/store"
)

// Append records one audit entry; a failure is logged, not returned (the
// change it records already happened). actor is "anonymous" for the
// service's own actions; detail, when not nil, is stored as JSON.
func Append(ctx context.Context, st store.Store, log *slog.Logger, actor, ip, action, target, tenant string, detail any) {
	e := &store.AuditEntry{Actor: actor, Action: action, Target: target, Tenant: tenant, IP: ip}
	if detail != nil {
		if b, err := json.Marshal(detail); err == nil {
			e.Detail = b
		}
	}
	if err := st.AppendAudit(ctx, e); err != nil {
		log.Error("audit append failed", "action", action, "err", err)
	}
}

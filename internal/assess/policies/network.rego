# Heading 4 — internal architecture and segregation.
package firebreak.checks.network

import data.firebreak.lib

results contains lib.flag("FB-NET-001", input.provider.customer_data_segregated, "provider", input.provider.id,
	"customer data sets segregated from each other and from the MSP network", "provider.network.customer_data_segregated") if lib.msp

results contains lib.flag("FB-NET-002", input.provider.admin_network_separate, "provider", input.provider.id,
	"administration network separate from the corporate network", "provider.network.admin_network_separate") if lib.msp

results contains lib.flag("FB-NET-003", input.tenant.data_segregated, "tenant", input.tenant.id,
	"tenant data segregated at the MSP", "tenant.network.data_segregated") if lib.tenant

results contains lib.flag("FB-NET-004", input.tenant.dedicated_connection, "tenant", input.tenant.id,
	"dedicated connection for MSP traffic", "tenant.network.dedicated_connection") if lib.tenant

# FB-NET-005 — admin credential reuse across customers, judged on the
# access facts' list (lib.admin_reuse), the one FB-TRUST-004 reads.
results contains lib.admin_reuse("FB-NET-005") if lib.tenant

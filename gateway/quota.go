package gateway

// The quota refusals in metrics; the quotas themselves are the broker's
// (broker/quota.go, broker/retained_quota.go).

import (
	"edgemq/gateway/broker"

	"github.com/prometheus/client_golang/prometheus"
)

var descQuotaRefused = prometheus.NewDesc("edgemq_quota_refused_total",
	"Requests refused by a quota: subscriptions, subscription_bytes, sessions_per_ip, sessions_per_user, retained_per_client, retained_topic_length, retained_messages, retained_bytes.",
	[]string{"quota"}, nil)

// quotaCollector exports the quota refusals.
type quotaCollector struct{ q *broker.Quotas }

func (c quotaCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descQuotaRefused }

func (c quotaCollector) Collect(ch chan<- prometheus.Metric) {
	for k := range broker.QuotaKinds {
		ch <- prometheus.MustNewConstMetric(descQuotaRefused, prometheus.CounterValue, float64(c.q.Refused(k)), k.String())
	}
}

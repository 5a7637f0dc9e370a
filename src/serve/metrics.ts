/**
 * `/metrics` in Prometheus' text exposition format (version 0.0.4): counters of requests by
 * outcome, bytes sent, in-flight requests, and a histogram of upstream lookup latency.
 */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  readonly requests = new Map<string, number>();
  bytes = 0;
  inFlight = 0;
  private readonly upstream = new Array<number>(BUCKETS.length).fill(0);
  private upstreamCount = 0;
  private upstreamSum = 0;

  count(result: string): void {
    this.requests.set(result, (this.requests.get(result) ?? 0) + 1);
  }

  observeUpstream(seconds: number): void {
    this.upstreamCount++;
    this.upstreamSum += seconds;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) this.upstream[i]!++;
  }

  text(): string {
    const lines: string[] = [];
    lines.push('# HELP symsrv_requests_total Requests by outcome (hit, upstream, miss, negative, error, not_modified, bad, ...).');
    lines.push('# TYPE symsrv_requests_total counter');
    for (const [result, n] of [...this.requests].sort()) lines.push(`symsrv_requests_total{result="${result}"} ${n}`);
    const hits = this.requests.get('hit') ?? 0;
    const misses = (this.requests.get('miss') ?? 0) + (this.requests.get('negative') ?? 0);
    lines.push('# HELP symsrv_hits_total Keys served from a local store.', '# TYPE symsrv_hits_total counter', `symsrv_hits_total ${hits}`);
    lines.push('# HELP symsrv_misses_total Keys found nowhere (negative-cache answers included).', '# TYPE symsrv_misses_total counter', `symsrv_misses_total ${misses}`);
    lines.push('# HELP symsrv_bytes_sent_total Body bytes sent.', '# TYPE symsrv_bytes_sent_total counter', `symsrv_bytes_sent_total ${this.bytes}`);
    lines.push('# HELP symsrv_in_flight Requests being answered.', '# TYPE symsrv_in_flight gauge', `symsrv_in_flight ${this.inFlight}`);
    lines.push('# HELP symsrv_upstream_seconds Lookups that went upstream (downloads and upstream misses).', '# TYPE symsrv_upstream_seconds histogram');
    BUCKETS.forEach((b, i) => lines.push(`symsrv_upstream_seconds_bucket{le="${b}"} ${this.upstream[i]}`));
    lines.push(`symsrv_upstream_seconds_bucket{le="+Inf"} ${this.upstreamCount}`);
    lines.push(`symsrv_upstream_seconds_sum ${this.upstreamSum}`, `symsrv_upstream_seconds_count ${this.upstreamCount}`);
    return lines.join('\n') + '\n';
  }
}

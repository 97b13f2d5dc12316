/**
 * Runtime settings of one gateway process (Kong's kong.conf equivalents): where it listens,
 * how many workers, whom it trusts, which request limits it enforces. Resolved once by the
 * CLI (flag > PORTCULLIS_* env > default) and handed to the supervisor and every worker.
 */

export interface ListenAddress {
  host: string;
  port: number;
}

export interface GatewaySettings {
  /** Declarative config file; null runs the embedded default config. */
  configFile: string | null;
  proxyListen: ListenAddress;
  /** null turns the admin API off. */
  adminListen: ListenAddress | null;
  /** Token required on the admin API (Authorization: Bearer or Portcullis-Admin-Token). */
  adminToken: string | null;
  workers: number;
  /** CIDRs/IPs whose X-Forwarded-* and real_ip_header are believed (Kong trusted_ips). */
  trustedIps: string[];
  /** Header carrying the client address when the peer is trusted (Kong real_ip_header). */
  realIpHeader: string;
  /** With X-Forwarded-For: skip trusted addresses from the right (Kong real_ip_recursive). */
  realIpRecursive: boolean;
  /** Request limits enforced on every request before routing. */
  limits: RequestLimits;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
  /** How long SIGTERM waits for in-flight requests before closing what is left (ms). */
  drainTimeoutMs: number;
  /** Access log destination: null (off, the default), 'stdout', or a file path (appended to). */
  accessLog?: string | null;
  /**
   * --cpu-affinity: 'off' (the default; also when absent), 'auto' (worker i on the i-th core
   * of the process's allowed set, wrapping), or core ids (worker i on cores[i mod length]).
   * The CLI turns 'auto' into the core list before the workers start (src/shared/affinity.ts).
   */
  cpuAffinity?: CpuAffinitySetting;
}

export type CpuAffinitySetting = 'off' | 'auto' | number[];

export interface RequestLimits {
  /**
   * Most header lines accepted (431 above). The uWS build we run stops parsing at 48 header
   * lines (UWS_HTTP_MAX_HEADERS_COUNT, compiled in): a request with more never reaches the
   * gateway and its connection is dropped by uWS's idle timeout, so values above
   * UWS_MAX_HEADER_LINES cannot take effect (docs/request-limits.md).
   */
  maxHeaderCount: number;
  /** Most bytes of all header names and values together (431 above). */
  maxHeaderBytes: number;
  /** Most bytes of path + query (414 above). */
  maxUriLength: number;
  /** A request body that sends nothing for this long is answered 408 (nginx client_body_timeout). */
  clientBodyTimeoutMs: number;
  /** A client that reads nothing of its response for this long is disconnected (nginx send_timeout). */
  clientSendTimeoutMs: number;
}

/** Header lines the uWS parser accepts at most (measured: 48 pass, 49 are never delivered). */
export const UWS_MAX_HEADER_LINES = 48;

export const DEFAULT_LIMITS: RequestLimits = {
  maxHeaderCount: UWS_MAX_HEADER_LINES,
  maxHeaderBytes: 32 * 1024,
  maxUriLength: 8 * 1024,
  clientBodyTimeoutMs: 60_000,
  clientSendTimeoutMs: 60_000,
};

/**
 * Why a listening socket could not be opened, in one line that names the cause and the fix.
 * QA ticket P0: in sandboxes that forbid sockets the old hub died with a bare PermissionError.
 */
export function describeListenError(
  error: NodeJS.ErrnoException,
  what: string,
  host: string,
  port: number,
  /** The flag that chose this port (`--rest-port` for the REST API), named in the fix. */
  portFlag = '--port',
): string {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EPERM':
      return (
        `cannot listen on ${where} for the ${what}: EPERM, operation not permitted. This sandbox or container forbids ` +
        'opening listening sockets: the process needs permission to bind and listen on a TCP socket (allow ' +
        'network bind/listen on loopback in the sandbox rules, or run outside the sandbox). If only this port is ' +
        `refused, ${portFlag} 0 picks a free one.`
      );
    case 'EACCES':
      return (
        `cannot listen on ${where} for the ${what}: EACCES, permission denied. Ports below 1024 need root or ` +
        `CAP_NET_BIND_SERVICE; pick a port above 1024, or ${portFlag} 0 to let the system pick a free one.`
      );
    case 'EADDRINUSE':
      return (
        `cannot listen on ${where} for the ${what}: EADDRINUSE, the port is already in use (another hub?). ` +
        `Stop that process, choose another port, or use ${portFlag} 0 to let the system pick a free one.`
      );
    case 'EADDRNOTAVAIL':
      return (
        `cannot listen on ${where} for the ${what}: EADDRNOTAVAIL, ${host} is not an address of this machine. ` +
        'Use 127.0.0.1 (or 0.0.0.0 for every interface, with --token).'
      );
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot listen on ${where} for the ${what}: the host name ${host} does not resolve. Use an IP address such as 127.0.0.1.`;
    default:
      return `cannot listen on ${where} for the ${what}: ${error.code ?? ''} ${error.message}`.trim();
  }
}

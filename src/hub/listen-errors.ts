/**
 * Why a listening socket could not be opened, in one line that names the cause and the fix.
 * QA ticket P0: in sandboxes that forbid sockets the old hub died with a bare PermissionError.
 */
export function describeListenError(
  error: NodeJS.ErrnoException,
  what: string,
  host: string,
  port: number,
): string {
  const where = `${host}:${port}`;
  switch (error.code) {
    case 'EPERM':
      return (
        `cannot listen on ${where} for the ${what}: EPERM, operation not permitted. This sandbox or container forbids ` +
        'opening listening sockets; run where the process may bind a TCP socket (a sandbox rule allowing ' +
        'network-bind/listen on loopback, or outside the sandbox). `mittelo doctor --core` checks this.'
      );
    case 'EACCES':
      return (
        `cannot listen on ${where} for the ${what}: EACCES, permission denied. Ports below 1024 need root or ` +
        'CAP_NET_BIND_SERVICE; pick a port above 1024, or --port 0 to let the system pick a free one.'
      );
    case 'EADDRINUSE':
      return (
        `cannot listen on ${where} for the ${what}: EADDRINUSE, the port is already in use (another hub?). ` +
        'Stop that process, choose another port, or use --port 0 to let the system pick a free one.'
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

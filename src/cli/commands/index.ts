/** Client commands (they talk to a running hub). */
import type { Command } from 'commander';

export function clientCommands(): Command[] {
  return [];
}

/**
 * What the REST API answers, for the OpenAPI document: the method results of the wire model
 * (src/protocol/model.ts, the one source of the task, stats, agent and event shapes) plus the
 * HTTP error body, which only REST has.
 */
import { z } from 'zod';
import { HUB_ERROR_CODES } from '../../errors.ts';

export {
  agentInfoSchema as agentSchema,
  hubEventSchema,
  pauseSchema,
  resultSchemas as responseSchemas,
  statsSchema,
  taskSchema,
} from '../../protocol/model.ts';

export const errorSchema = z.object({
  error: z.string().meta({ description: 'What went wrong and how to fix it, for people' }),
  code: z.enum(HUB_ERROR_CODES).meta({ description: 'Stable; for programs' }),
  details: z.record(z.string(), z.unknown()).optional(),
});

// A room's comfort setpoint, changed: the one validation and write shared by `PUT /hearth/v1/rooms/:id/setpoint`
// and Home Assistant's commands on the bus (the same limits, the same stored spec, the same `setpoint` event).
import { EVENT_TYPES, RoomSpecSchema, SetpointBodySchema, type RoomSpec } from '../../protocol/platform.ts';
import type { EventHub } from '../events.ts';
import type { NewStoreEvent, RegistryRow, Store } from '../store/types.ts';
import { HttpError, invalid, notFound } from './http-error.ts';
import { compileBody } from './validation.ts';

const isRoomSpec = compileBody(RoomSpecSchema);
const isSetpointBody = compileBody(SetpointBodySchema);

/**
 * The room's spec with `comfortC` as its comfort setpoint, °C.
 * @throws HttpError 409 (INVALID_STATE) when the stored spec is not a valid room spec; 400 naming `comfortC` when it
 *   is not a temperature the API accepts or lies outside the room's [minC, maxC]
 */
export function withSetpoint(spec: unknown, comfortC: unknown): RoomSpec {
  if (!isRoomSpec(spec)) throw new HttpError('INVALID_STATE', 'the room has no valid spec: an operator must PUT it first');
  const room = spec as RoomSpec;
  if (!isSetpointBody({ comfortC })) throw invalid('comfortC', `comfortC must be a temperature in °C, got ${JSON.stringify(comfortC)}`);
  const value = comfortC as number;
  if (value < room.minC || value > room.maxC) throw invalid('comfortC', `comfortC must lie within the room's limits [${room.minC}, ${room.maxC}] °C, got ${value}`);
  return { ...room, comfortC: value };
}

/** Who changes a setpoint: the event's owner (null: operators only see it) and the `by` of its payload. */
export interface SetpointActor {
  accountId: string | null;
  by: string;
}

/**
 * Sets a room's comfort setpoint, °C, after {@link withSetpoint}'s checks, and appends the `setpoint` event in the
 * same transaction; wakes the live streams after the commit. The caller has checked that the actor may.
 * @throws HttpError 404 when the room does not exist; see {@link withSetpoint}
 */
export async function writeRoomSetpoint(store: Store, events: EventHub | undefined, roomId: string, comfortC: unknown, actor: SetpointActor): Promise<RegistryRow> {
  const { row, stored } = await store.transaction(async (tx) => {
    const cur = await tx.getRegistry(roomId);
    if (!cur || cur.kind !== 'room') throw notFound(`room ${JSON.stringify(roomId)}`);
    const spec = withSetpoint(cur.spec, comfortC);
    const row = await tx.upsertRegistry({ id: cur.id, kind: 'room', siteId: cur.siteId, parentId: cur.parentId, accountId: cur.accountId, name: cur.name, spec });
    const event: NewStoreEvent = {
      type: EVENT_TYPES.setpoint,
      accountId: actor.accountId,
      payload: { roomId: cur.id, siteId: cur.siteId, comfortC: spec.comfortC, by: actor.by },
    };
    return { row, stored: await tx.appendEvent(event) };
  });
  events?.notify(stored);
  return row;
}

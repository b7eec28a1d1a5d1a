// (ext) hearth's own account administration (operators only): `POST /hearth/v1/accounts` creates an account with
// credits (a resident with their rooms) and returns its first token, shown this once; `PUT /accounts/{id}/rooms`
// moves a resident to other rooms — their open event streams follow at their next read, and the Home Assistant
// logins they issued that reach a room they no longer have are revoked (the broker ends their connections).
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { AccountCreatedSchema, AccountCreateSchema, AccountRoomsOutputSchema, AccountRoomsSchema } from '../../protocol/account.ts';
import { ApiErrorSchema } from '../../protocol/errors.ts';
import { EVENT_TYPES } from '../../protocol/platform.ts';
import { createAccount } from '../auth/tokens.ts';
import { listHomeAssistantLogins, revokeHomeAssistant } from '../bus/enrol.ts';
import type { Store } from '../store/types.ts';
import type { EventHub } from '../events.ts';
import { callerOf, requireRooms, type ApiContext } from './context.ts';
import { HttpError, invalid } from './http-error.ts';

export interface AccountRouteOptions extends ApiContext {
  /** Where a login revocation is published (the platform's broker ends the login's connections when it hears it). */
  events?: EventHub;
}

/** A resident's rooms checked: none named twice, each a room of the registry; 400 naming `field[i]` otherwise. */
async function checkRooms(store: Store, roomIds: readonly string[], field: string): Promise<void> {
  const twice = roomIds.findIndex((id, i) => roomIds.indexOf(id) !== i);
  if (twice >= 0) throw invalid(`${field}[${twice}]`, `room ${JSON.stringify(roomIds[twice])} is named twice`);
  await requireRooms(store, roomIds, field);
}

/** Account routes (mounted under /hearth/v1). */
export const accountRoutes: FastifyPluginAsync<AccountRouteOptions> = (base, ctx) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/accounts',
    {
      schema: {
        tags: ['hearth'],
        summary: '(ext) Create an account (operator only; a resident with roomIds); its token is shown this once',
        body: AccountCreateSchema,
        response: { 201: AccountCreatedSchema, 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 409: ApiErrorSchema },
      },
    },
    async (req, reply) => {
      const { account } = callerOf(req);
      if (account.role !== 'operator') throw new HttpError('FORBIDDEN', 'only an operator may create accounts');
      const role = req.body.role ?? 'customer';
      const roomIds = req.body.roomIds;
      if (roomIds !== undefined && role !== 'resident') throw invalid('roomIds', `only a resident has rooms (role is ${role})`);
      if (roomIds !== undefined) await checkRooms(ctx.store, roomIds, 'roomIds');
      const { account: created, token } = await createAccount(ctx.store, {
        email: req.body.email,
        role,
        credits: req.body.credits ?? 0,
        sealKey: ctx.sealKey,
        ...(role === 'resident' ? { scope: { roomIds: roomIds ?? [] } } : {}),
      });
      return reply
        .code(201)
        .send({ id: created.id, email: created.email, role: created.role, credits: created.creditsEUR, token, ...(role === 'resident' ? { roomIds: roomIds ?? [] } : {}) });
    },
  );

  app.put(
    '/accounts/:id/rooms',
    {
      schema: {
        tags: ['hearth'],
        summary: "(ext) A resident's rooms from now on (operator only); their Home Assistant logins reaching other rooms are revoked",
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 256 }) }),
        body: AccountRoomsSchema,
        response: { 200: AccountRoomsOutputSchema, 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 404: ApiErrorSchema },
      },
    },
    async (req) => {
      const { account } = callerOf(req);
      if (account.role !== 'operator') throw new HttpError('FORBIDDEN', "only an operator may change a resident's rooms");
      const target = await ctx.store.getAccount(req.params.id);
      if (!target) throw new HttpError('NOT_FOUND', `no account ${JSON.stringify(req.params.id.slice(0, 256))}`);
      if (target.role !== 'resident') throw invalid('id', `account ${target.email} is a ${target.role}, not a resident`);
      const roomIds = req.body.roomIds;
      await checkRooms(ctx.store, roomIds, 'roomIds');
      await ctx.store.updateAccount(target.id, { scope: { ...target.scope, roomIds } });
      // A login this resident issued may not outlive their access to a room it reaches.
      const keep = new Set(roomIds);
      const revokedLogins: string[] = [];
      for (const login of await listHomeAssistantLogins(ctx.store, { issuedBy: target.id })) {
        if (login.revoked || login.roomIds.every((r) => keep.has(r))) continue;
        await revokeHomeAssistant(ctx.store, login.username);
        await ctx.events?.publish(ctx.store, { type: EVENT_TYPES.integrationRevoked, accountId: null, payload: { username: login.username }, at: ctx.clock() });
        revokedLogins.push(login.username);
      }
      return { id: target.id, email: target.email, roomIds, revokedLogins };
    },
  );
  return Promise.resolve();
};

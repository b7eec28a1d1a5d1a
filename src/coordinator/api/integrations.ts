// (ext) Integrations: `POST /hearth/v1/integrations/home-assistant` issues Home Assistant's MQTT login for rooms
// (an operator: a site's rooms or a list; a resident: their own rooms), shown once and stored hashed; `GET` lists the
// logins (an operator all of them, a resident those they issued) and `DELETE …/{username}` revokes one: its password
// stops working and the broker ends its open connections.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ApiErrorSchema } from '../../protocol/errors.ts';
import { Type } from 'typebox';
import { HA_DISCOVERY_PREFIX, HaCredentialsSchema, HaIssueSchema, HaLoginSchema, isRoomId, type HaCredentials, type HaLogin } from '../../protocol/mqtt.ts';
import { EVENT_TYPES } from '../../protocol/platform.ts';
import { enrolHomeAssistant, getHomeAssistantLogin, listHomeAssistantLogins, revokeHomeAssistant, type HaLoginRecord } from '../bus/enrol.ts';
import type { EventHub } from '../events.ts';
import { callerOf, iso, requireRooms, type ApiContext } from './context.ts';
import { HttpError, invalid } from './http-error.ts';

export interface IntegrationOptions extends ApiContext {
  /** The discovery prefix the broker serves (told to the caller); default `homeassistant`. */
  discoveryPrefix?: string;
  /** Where a revocation is published (the platform's broker ends the login's connections when it hears it). */
  events?: EventHub;
}

function view(r: HaLoginRecord): HaLogin {
  return { username: r.username, roomIds: r.roomIds, createdAt: iso(r.account.createdAt), issuedBy: r.issuedBy, revoked: r.revoked };
}

/** Integration routes (mounted under /hearth/v1). */
export const integrationRoutes: FastifyPluginAsync<IntegrationOptions> = (base, ctx) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/integrations/home-assistant',
    {
      schema: {
        tags: ['hearth'],
        summary: '(ext) Issue a Home Assistant MQTT login for rooms (operator: siteId or roomIds; resident: their rooms); the password is shown this once',
        body: HaIssueSchema,
        response: { 201: HaCredentialsSchema, 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema },
      },
    },
    async (req, reply) => {
      const { account } = callerOf(req);
      const body = req.body ?? {};
      let roomIds: string[];
      if (account.role === 'operator') {
        if ((body.siteId === undefined) === (body.roomIds === undefined)) throw invalid('siteId', 'give either siteId or roomIds');
        if (body.siteId !== undefined) {
          roomIds = (await ctx.store.listRegistry({ kind: 'room', siteId: body.siteId })).map((r) => r.id);
          if (roomIds.length === 0) throw invalid('siteId', `site ${JSON.stringify(body.siteId)} has no rooms`);
        } else {
          roomIds = body.roomIds!;
          await requireRooms(ctx.store, roomIds, 'roomIds');
        }
      } else if (account.role === 'resident') {
        const own = Array.isArray(account.scope.roomIds) ? account.scope.roomIds : [];
        if (body.siteId !== undefined) throw invalid('siteId', 'a resident issues a login for their rooms, not a site');
        roomIds = body.roomIds ?? own;
        roomIds.forEach((id, i) => {
          if (!own.includes(id)) throw invalid(`roomIds[${i}]`, `room ${JSON.stringify(id)} is not one of yours`);
        });
        if (roomIds.length === 0) throw new HttpError('FORBIDDEN', 'this account has no rooms');
      } else {
        throw new HttpError('FORBIDDEN', 'only an operator or a resident may issue a Home Assistant login');
      }
      const bad = roomIds.findIndex((id) => !isRoomId(id));
      if (bad >= 0) throw invalid(`roomIds[${bad}]`, `room id ${JSON.stringify(roomIds[bad])} cannot appear in MQTT topics`);
      const { username, secret } = await enrolHomeAssistant(ctx.store, roomIds, { issuedBy: account.id });
      const out: HaCredentials = { username, password: secret, roomIds, discoveryPrefix: ctx.discoveryPrefix ?? HA_DISCOVERY_PREFIX };
      return reply.code(201).send(out);
    },
  );

  app.get(
    '/integrations/home-assistant',
    {
      schema: {
        tags: ['hearth'],
        summary: '(ext) The Home Assistant logins (operator: all; resident: those they issued), revoked ones included; never a password',
        response: { 200: Type.Array(HaLoginSchema), 401: ApiErrorSchema, 403: ApiErrorSchema },
      },
    },
    async (req) => {
      const { account } = callerOf(req);
      if (account.role !== 'operator' && account.role !== 'resident') throw new HttpError('FORBIDDEN', 'only an operator or a resident has Home Assistant logins');
      return (await listHomeAssistantLogins(ctx.store, account.role === 'operator' ? {} : { issuedBy: account.id })).map(view);
    },
  );

  app.delete(
    '/integrations/home-assistant/:username',
    {
      schema: {
        tags: ['hearth'],
        summary: '(ext) Revoke a Home Assistant login (operator: any; resident: one they issued): its password stops working, its connections end',
        params: Type.Object({ username: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: HaLoginSchema, 401: ApiErrorSchema, 404: ApiErrorSchema },
      },
    },
    async (req) => {
      const { account } = callerOf(req);
      const { username } = req.params;
      const login = await getHomeAssistantLogin(ctx.store, username);
      // Another resident's login is as unknown as a missing one.
      const mine = login !== undefined && (account.role === 'operator' || (account.role === 'resident' && login.issuedBy === account.id));
      if (!login || !mine) throw new HttpError('NOT_FOUND', `no Home Assistant login ${JSON.stringify(username.slice(0, 64))}`);
      await revokeHomeAssistant(ctx.store, username);
      await ctx.events?.publish(ctx.store, { type: EVENT_TYPES.integrationRevoked, accountId: null, payload: { username }, at: ctx.clock() });
      return view({ ...login, revoked: true });
    },
  );
  return Promise.resolve();
};

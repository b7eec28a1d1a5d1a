// (ext) hearth's own account administration: `POST /hearth/v1/accounts` (operators only) creates an account
// with credits and returns its first token, shown this once.
import type { FastifyPluginAsync } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AccountCreatedSchema, AccountCreateSchema } from '../../protocol/account.ts';
import { ApiErrorSchema } from '../../protocol/errors.ts';
import { createAccount } from '../auth/tokens.ts';
import { callerOf, type ApiContext } from './context.ts';
import { HttpError } from './http-error.ts';

/** Account routes (mounted under /hearth/v1). */
export const accountRoutes: FastifyPluginAsync<ApiContext> = (base, ctx) => {
  const app = base.withTypeProvider<TypeBoxTypeProvider>();
  app.post(
    '/accounts',
    {
      schema: {
        tags: ['hearth'],
        summary: '(ext) Create an account (operator only); its token is shown this once',
        body: AccountCreateSchema,
        response: { 201: AccountCreatedSchema, 400: ApiErrorSchema, 401: ApiErrorSchema, 403: ApiErrorSchema, 409: ApiErrorSchema },
      },
    },
    async (req, reply) => {
      const { account } = callerOf(req);
      if (account.role !== 'operator') throw new HttpError('FORBIDDEN', 'only an operator may create accounts');
      const { account: created, token } = await createAccount(ctx.store, {
        email: req.body.email,
        role: req.body.role ?? 'customer',
        credits: req.body.credits ?? 0,
        sealKey: ctx.sealKey,
      });
      return reply.code(201).send({ id: created.id, email: created.email, role: created.role, credits: created.creditsEUR, token });
    },
  );
  return Promise.resolve();
};

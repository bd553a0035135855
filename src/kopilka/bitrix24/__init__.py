"""The Bitrix24 edge: REST client, rate limiter, events endpoint, sync jobs and provisioning."""

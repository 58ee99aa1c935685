ALTER TABLE `api_keys` ADD `created_by_session_id` text;--> statement-breakpoint
ALTER TABLE `audit_logs` ADD `actor_user_id` text;--> statement-breakpoint
ALTER TABLE `sessions` ADD `credentials_epoch` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `sessions` ADD `auth_time` integer;--> statement-breakpoint
ALTER TABLE `users` ADD `credentials_epoch` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `users` ADD `erased_at` integer;
CREATE TABLE `batch_fences` (
	`id` text PRIMARY KEY NOT NULL,
	`ok` integer NOT NULL
);

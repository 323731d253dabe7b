-- 005_reload_on_ddl.sql
-- Tell running pgfront apps to reload their catalog after any DDL: an event trigger
-- sends NOTIFY pgfront, 'reload schema' (the channel is the app's RELOAD_CHANNEL,
-- default pgfront). Apps reload once per burst, off the request path.
-- Event triggers need a superuser to create.

CREATE SCHEMA IF NOT EXISTS pgfront;

CREATE FUNCTION pgfront.notify_schema_change() RETURNS event_trigger
    LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pgfront', 'reload schema');
END;
$$;

COMMENT ON FUNCTION pgfront.notify_schema_change() IS
    'Sends NOTIFY pgfront, ''reload schema'' so running apps reload their catalog.';

CREATE EVENT TRIGGER pgfront_reload_on_ddl ON ddl_command_end
    EXECUTE FUNCTION pgfront.notify_schema_change();

CREATE EVENT TRIGGER pgfront_reload_on_drop ON sql_drop
    EXECUTE FUNCTION pgfront.notify_schema_change();

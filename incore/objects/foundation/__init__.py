"""Foundation types: Application, DataObject, Timer, Polling, Serializer, Connections."""

# workers/whatsapp: holdfast-whatsapp, the session processor.

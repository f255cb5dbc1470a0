-- wxarchive index database, schema 2: full-text search. docs/FORMAT.md.

-- Search key: sent time (ms) << 20 | serial's low 20 bits, unique. The
-- full-text index is keyed by it, so newest-first results come straight off
-- the index.
ALTER TABLE messages ADD COLUMN skey INTEGER;
CREATE UNIQUE INDEX messages_skey ON messages (skey);

-- Text extracted from text-like attachments (docx, xlsx, pptx, txt, csv).
ALTER TABLE attachments ADD COLUMN text TEXT NOT NULL DEFAULT '';

-- The full-text index holds index terms (textindex), not raw text: words,
-- CJK bigrams and run-final unigrams, space-separated; the ascii tokenizer
-- keeps every non-ASCII character and '.' inside terms; the one-character
-- prefix index makes a single CJK character one lookup. Contentless: the
-- text lives in messages.text and attachments.text.
CREATE VIRTUAL TABLE fts USING fts5(body, attachments,
    tokenize = "ascii tokenchars '.'", prefix = '1', content = '', contentless_delete = 1);

-- An archive created before schema 2 has messages the index lacks.
INSERT INTO meta (key, value) SELECT 'reindex_required', 'schema 2 added the full-text index'
    WHERE EXISTS (SELECT 1 FROM messages);

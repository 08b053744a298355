"""The knowledge base: Markdown articles (drug monographs, platform rules, service
procedures), read and checked like packs, and the words a search index holds for them."""

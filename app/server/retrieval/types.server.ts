export interface RetrievedChunk {
  chunkId: number;
  documentId: number;
  title: string;
  url: string | null;
  fileName: string | null;
  headingPath: string;
  text: string;
  /** Fused score, higher is better. */
  score: number;
  /** 1-based ranks in each stage, null when the stage did not return the chunk. */
  keywordRank: number | null;
  vectorRank: number | null;
  /** Cosine similarity of the query and the chunk, when the vector stage scored it. */
  similarity: number | null;
}

export interface VectorHit {
  chunkId: number;
  /** Cosine similarity of the query and the chunk's text vector. */
  similarity: number;
}

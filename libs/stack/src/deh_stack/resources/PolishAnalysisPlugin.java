package eu.deh.opensearch;

import java.util.Map;
import morfologik.stemming.Dictionary;
import morfologik.stemming.polish.PolishStemmer;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.morfologik.MorfologikFilter;
import org.apache.lucene.analysis.pl.PolishAnalyzer;
import org.apache.lucene.analysis.stempel.StempelFilter;
import org.apache.lucene.analysis.stempel.StempelStemmer;
import org.opensearch.common.settings.Settings;
import org.opensearch.env.Environment;
import org.opensearch.index.IndexSettings;
import org.opensearch.index.analysis.AbstractIndexAnalyzerProvider;
import org.opensearch.index.analysis.AbstractTokenFilterFactory;
import org.opensearch.index.analysis.AnalyzerProvider;
import org.opensearch.index.analysis.TokenFilterFactory;
import org.opensearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.opensearch.plugins.AnalysisPlugin;
import org.opensearch.plugins.Plugin;

/**
 * Polish analysis for the local OpenSearch node, from Lucene's modules on Maven Central
 * (OpenSearch's own analysis-stempel plugin is not published there for 2.x):
 * - Stempel, an algorithmic stemmer, under the names that analysis-stempel registers (analyzer
 *   "polish", token filter "polish_stem"), so an index made for a node with that plugin works;
 * - Morfologik, a dictionary lemmatizer (token filter "morfologik_stem", the name the
 *   Elasticsearch Morfologik plugin uses), which maps far more inflected forms to their lemma.
 * deh_stack.opensearch compiles this file against the node's jars.
 */
public class PolishAnalysisPlugin extends Plugin implements AnalysisPlugin {
    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        return Map.of("polish_stem", PolishStem::new, "morfologik_stem", MorfologikStem::new);
    }

    @Override
    public Map<String, AnalysisProvider<AnalyzerProvider<? extends Analyzer>>> getAnalyzers() {
        return Map.of("polish", Polish::new);
    }

    static class PolishStem extends AbstractTokenFilterFactory {
        PolishStem(IndexSettings indexSettings, Environment environment, String name, Settings settings) {
            super(indexSettings, name, settings);
        }

        @Override
        public TokenStream create(TokenStream tokenStream) {
            return new StempelFilter(tokenStream, new StempelStemmer(PolishAnalyzer.getDefaultTable()));
        }
    }

    static class MorfologikStem extends AbstractTokenFilterFactory {
        /** The dictionary is large and immutable: loaded once, shared by every token stream. */
        private static final Dictionary POLISH = new PolishStemmer().getDictionary();

        MorfologikStem(IndexSettings indexSettings, Environment environment, String name, Settings settings) {
            super(indexSettings, name, settings);
        }

        @Override
        public TokenStream create(TokenStream tokenStream) {
            return new MorfologikFilter(tokenStream, POLISH);
        }
    }

    static class Polish extends AbstractIndexAnalyzerProvider<PolishAnalyzer> {
        private final PolishAnalyzer analyzer;

        Polish(IndexSettings indexSettings, Environment environment, String name, Settings settings) {
            super(indexSettings, name, settings);
            analyzer = new PolishAnalyzer(PolishAnalyzer.getDefaultStopSet());
        }

        @Override
        public PolishAnalyzer get() {
            return analyzer;
        }
    }
}

import ConvNet
import Foundation
import ModelArchive
import Verification

/// The report as one self-contained HTML page: no script, no network access; pictures are inline PNG
/// (`data:` URIs) and inline SVG.
public enum HTMLPage {
    /// The page of `content`, to be written to `file`.
    ///
    /// - Throws: ``ReportError/cannotEncode(file:reason:)`` when a picture cannot be encoded.
    public static func render(_ content: ReportContent, file: String) throws(ReportError) -> String {
        do {
            return try page(content)
        } catch {
            throw .cannotEncode(file: file, reason: error.reason)
        }
    }

    static func page(_ content: ReportContent) throws(PNGFailure) -> String {
        var html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>cnnkit report: \(escape(content.file.path))</title>"
        html += "<style>\(style)</style></head><body>"
        html += "<h1>\(escape(content.file.path))</h1>"
        html += "<p class=\"summary\">\(escape(content.file.format)) \(escape(content.file.formatVersion)), \(content.file.bytes) bytes, "
        html += "\(content.layers.count) layers, \(content.layers.reduce(0) { $0 + $1.parameters }) parameters; verification "
        html += content.verification.passed ? "<b class=\"pass\">passed</b></p>" : "<b class=\"fail\">failed</b></p>"
        html += "<nav>" + ["architecture", "integrity", "filters", "features", "curves", "histograms", "evaluation", "comparison"]
            .map { "<a href=\"#\($0)\">\($0)</a>" }.joined(separator: " · ") + "</nav>"
        html += architecture(content)
        html += integrity(content)
        html += try filters(content)
        html += try features(content)
        html += curves(content)
        html += histograms(content)
        html += try evaluation(content)
        html += comparison(content)
        html += "<footer>made by cnnkit report</footer></body></html>\n"
        return html
    }

    static let style = """
        body{font-family:sans-serif;margin:24px;color:#222;max-width:1200px}h1{font-size:20px;word-break:break-all}\
        h2{font-size:17px;border-bottom:1px solid #ccc;padding-top:12px}h3{font-size:14px;margin-bottom:4px}\
        table{border-collapse:collapse;font-size:12px;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 6px;text-align:left}\
        td.num,th.num{text-align:right}.pass{color:#1e7b34}.fail{color:#b3261e}.skip{color:#777}\
        img{image-rendering:pixelated;display:block;margin:4px 0}.scale{display:flex;align-items:center;gap:6px;font-size:11px}\
        .scale img{display:inline;margin:0}figure{display:inline-block;margin:4px 10px 4px 0;font-size:11px}\
        .charts{display:flex;flex-wrap:wrap;gap:12px}code{font-size:11px;word-break:break-all}nav{font-size:13px;margin:8px 0}
        """

    static func architecture(_ c: ReportContent) -> String {
        var s = "<section id=\"architecture\"><h2>Architecture</h2>"
        s += "<p>input \(escape(c.architecture.input.description)), preprocessing x * \(c.architecture.preprocessing.scale) + \(c.architecture.preprocessing.offset)</p>"
        s += "<table><tr><th>layer</th><th>type</th><th>output shape</th><th class=\"num\">parameters</th></tr>"
        for l in c.layers {
            s += "<tr class=\"layer\"><td>\(escape(l.name))</td><td>\(l.type)</td><td>(\(l.output.map(String.init).joined(separator: ", ")))</td><td class=\"num\">\(l.parameters)</td></tr>"
        }
        s += "<tr><th colspan=\"3\">total</th><th class=\"num\">\(c.layers.reduce(0) { $0 + $1.parameters })</th></tr></table></section>"
        return s
    }

    static func integrity(_ c: ReportContent) -> String {
        var s = "<section id=\"integrity\"><h2>Integrity and provenance</h2><table>"
        s += row("file", c.file.path) + row("format", "\(c.file.format) \(c.file.formatVersion)") + row("size", "\(c.file.bytes) bytes")
        s += row("checksums", c.file.integrity)
        s += row("digests", c.metadata[TensorDigests.metadataKey] == nil ? "none recorded: stored values cannot be checked"
                 : "SHA-256 of every tensor, the training state and the architecture recorded")
        s += row("probes", c.probes.map { "\($0.count) inputs from \($0.source)" } ?? "none")
        if let t = c.trainingState {
            s += row("training state", "\(t.optimizer.kind.rawValue) lr \(t.optimizer.learningRate), epoch \(t.epoch), step \(t.step), batch \(t.batchSize), seed \(t.seed)"
                     + (t.dataset.map { ", data \($0.name) (\($0.trainCount) examples, fingerprint \($0.fingerprint))" } ?? ""))
        } else {
            s += row("training state", "none (weights only)")
        }
        s += "</table><h3>Verification</h3><table id=\"checks\"><tr><th>check</th><th>status</th><th>detail</th></tr>"
        for check in c.verification.checks {
            let cls = check.status == .pass ? "pass" : check.status == .fail ? "fail" : "skip"
            s += "<tr><td>\(escape(check.name))</td><td class=\"\(cls)\">\(check.status.rawValue)</td><td>\(escape(check.detail))</td></tr>"
        }
        s += "</table>"
        if let layer = c.verification.firstDivergingLayer { s += "<p class=\"fail\">first diverging layer: \(escape(layer))</p>" }
        s += "<h3>Metadata</h3><table>"
        for (k, v) in c.metadata.sorted(by: { $0.key < $1.key }) {
            s += "<tr><td>\(escape(k))</td><td><code>\(escape(v.count > 300 ? String(v.prefix(300)) + "…" : v))</code></td></tr>"
        }
        return s + "</table></section>"
    }

    static func row(_ name: String, _ value: String) -> String { "<tr><th>\(escape(name))</th><td>\(escape(value))</td></tr>" }

    static func filters(_ c: ReportContent) throws(PNGFailure) -> String {
        var s = "<section id=\"filters\"><h2>Filters</h2>"
        if c.filters.isEmpty { s += "<p>The model has no convolution.</p>" }
        for grid in c.filters {
            s += "<h3>\(escape(grid.layer)): \(grid.filters) filters of \(grid.kernelHeight) x \(grid.kernelWidth) on \(grid.inputChannels) input channel\(grid.inputChannels == 1 ? "" : "s")</h3>"
            if grid.inputChannels > 1 {
                s += "<p>Each band of \(grid.perRow) filters has one row per input channel.</p>"
            }
            s += "<img class=\"filter-grid\" alt=\"filters of \(escape(grid.layer))\" src=\"\(try dataURI(grid.image))\" data-layer=\"\(escape(grid.layer))\" "
            s += "data-filters=\"\(grid.filters)\" data-channels=\"\(grid.inputChannels)\" data-per-row=\"\(grid.perRow)\" data-kernel-height=\"\(grid.kernelHeight)\" "
            s += "data-kernel-width=\"\(grid.kernelWidth)\" data-cell=\"\(grid.layout.cell)\" data-gap=\"\(grid.layout.gap)\" width=\"\(grid.image.width)\" height=\"\(grid.image.height)\">"
            s += try scale(grid.scale, "weight")
        }
        return s + "</section>"
    }

    static func scale(_ scale: ColorScale, _ what: String) throws(PNGFailure) -> String {
        "<div class=\"scale\"><span>\(what) \(shortNumber(Double(scale.low)))</span><img alt=\"colour scale\" src=\"\(try dataURI(ColorScale.bar(width: 160, height: 12)))\"><span>\(shortNumber(Double(scale.high)))</span></div>"
    }

    static func features(_ c: ReportContent) throws(PNGFailure) -> String {
        var s = "<section id=\"features\"><h2>Feature maps</h2>"
        let strip = inputStrip(c.inputs.map(\.pixels), shape: c.architecture.input)
        s += "<p>Inputs, one row each below (the first \(FeatureMapGrid.maxChannels) channels of each layer): "
            + c.inputs.map { escape($0.caption) }.joined(separator: "; ") + "</p>"
        s += "<img class=\"inputs\" alt=\"input images\" src=\"\(try dataURI(strip.image))\">"
        if c.featureMaps.isEmpty { s += "<p>The model has no convolution or pooling layer.</p>" }
        for grid in c.featureMaps {
            s += "<h3>\(escape(grid.layer)): \(grid.channelsShown) of \(grid.channels) channels</h3>"
            s += "<img class=\"feature-map\" alt=\"feature maps of \(escape(grid.layer))\" src=\"\(try dataURI(grid.image))\" data-layer=\"\(escape(grid.layer))\">"
            s += try scale(grid.scale, "activation")
        }
        return s + "</section>"
    }

    static func curves(_ c: ReportContent) -> String {
        var s = "<section id=\"curves\"><h2>Training curves</h2>"
        guard let t = c.trainingState, !(t.history.isEmpty && t.curve.isEmpty) else {
            return s + "<p>No training history is stored in this file.</p></section>"
        }
        s += "<div class=\"charts\">"
        if !t.curve.isEmpty {
            s += SVGChart.lines([.init(name: "loss (running mean of the epoch)", colour: "#c0392b", points: t.curve.map { (Double($0.step), $0.loss) })],
                                title: "loss per step", xLabel: "step", yLabel: "loss", id: "curve-loss")
            s += SVGChart.lines([.init(name: "train accuracy (running)", colour: "#2e86c1", points: t.curve.map { (Double($0.step), $0.accuracy) })],
                                title: "accuracy per step", xLabel: "step", yLabel: "accuracy", id: "curve-accuracy")
        }
        if !t.history.isEmpty {
            let epochs = t.history.enumerated().map { (Double($0.offset + 1), $0.element) }
            s += SVGChart.lines([.init(name: "loss", colour: "#c0392b", points: epochs.map { ($0.0, $0.1.loss) })],
                                title: "loss per epoch", xLabel: "epoch", yLabel: "loss", id: "epoch-loss")
            var accuracy: [SVGChart.Series] = [.init(name: "train accuracy", colour: "#2e86c1", points: epochs.map { ($0.0, $0.1.trainAccuracy) })]
            let test = epochs.compactMap { e in e.1.testAccuracy.map { (e.0, $0) } }
            if !test.isEmpty { accuracy.append(.init(name: "test accuracy", colour: "#27ae60", points: test)) }
            s += SVGChart.lines(accuracy, title: "accuracy per epoch", xLabel: "epoch", yLabel: "accuracy", id: "epoch-accuracy")
        }
        s += "</div><table id=\"history\"><tr><th>epoch</th><th class=\"num\">loss</th><th class=\"num\">train accuracy</th><th class=\"num\">test accuracy</th></tr>"
        for (i, h) in t.history.enumerated() {
            s += "<tr><td>\(i + 1)</td><td class=\"num\" data-loss=\"\(h.loss)\">\(String(format: "%.4f", h.loss))</td><td class=\"num\">\(String(format: "%.2f%%", h.trainAccuracy * 100))</td>"
            s += "<td class=\"num\">\(h.testAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-")</td></tr>"
        }
        return s + "</table><p>\(t.curve.count) curve points (the epoch's running loss and accuracy every few steps).</p></section>"
    }

    static func histograms(_ c: ReportContent) -> String {
        var s = "<section id=\"histograms\"><h2>Histograms</h2><h3>Weights</h3><div class=\"charts\">"
        for (i, h) in c.weightHistograms.enumerated() {
            s += SVGChart.bars(h.histogram, title: h.name, xLabel: h.name + (h.histogram.nonFinite > 0 ? " (\(h.histogram.nonFinite) non-finite)" : ""), id: "weights-\(i)")
        }
        s += "</div><h3>Activations (on the inputs of the feature maps)</h3><div class=\"charts\">"
        for (i, h) in c.activationHistograms.enumerated() {
            s += SVGChart.bars(h.histogram, title: h.name, xLabel: h.name, id: "activations-\(i)", colour: "#8e5ea2")
        }
        return s + "</div></section>"
    }

    static func evaluation(_ c: ReportContent) throws(PNGFailure) -> String {
        var s = "<section id=\"evaluation\"><h2>Evaluation</h2>"
        guard let e = c.evaluation else { return s + "<p>Give <code>--data DIR</code> to evaluate the model on labelled data.</p></section>" }
        s += "<p id=\"accuracy\" data-correct=\"\(e.correct)\" data-count=\"\(e.count)\">accuracy \(String(format: "%.2f%%", e.accuracy * 100)) (\(e.correct) of \(e.count)) on \(escape(e.source))</p>"
        let largest = max(1, e.matrix.flatMap { $0 }.max() ?? 1)
        s += "<table id=\"confusion\"><tr><th>true \\ predicted</th>" + e.classNames.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
        for (i, row) in e.matrix.enumerated() {
            s += "<tr><th>\(escape(e.classNames[i]))</th>"
            for (j, n) in row.enumerated() {
                let t = Double(n) / Double(largest)
                let colour = i == j ? "rgba(39,174,96,\(String(format: "%.2f", t)))" : "rgba(192,57,43,\(String(format: "%.2f", min(1, t * 3))))"
                s += "<td class=\"num\" data-true=\"\(i)\" data-predicted=\"\(j)\" style=\"background:\(colour)\">\(n)</td>"
            }
            s += "</tr>"
        }
        s += "</table><h3>Most confident mistakes</h3>"
        let shape = c.architecture.input
        for m in e.mistakes {
            let picture = inputStrip([m.pixels], shape: shape, targetTile: 84).image
            s += "<figure><img alt=\"example \(m.index)\" src=\"\(try dataURI(picture))\"><figcaption>#\(m.index): \(escape(e.classNames[m.label])) "
            s += "taken for \(escape(e.classNames[m.predicted])) (\(String(format: "%.1f%%", m.confidence * 100)))</figcaption></figure>"
        }
        if e.mistakes.isEmpty { s += "<p>No mistakes.</p>" }
        return s + "</section>"
    }

    static func comparison(_ c: ReportContent) -> String {
        var s = "<section id=\"comparison\"><h2>Comparison</h2>"
        guard let k = c.comparison else { return s + "<p>Give <code>--against OTHER</code> to compare with a reference model.</p></section>" }
        s += "<p>Against \(escape(k.other)) (the reference) on \(k.count) inputs (\(escape(k.inputs))): max abs output error \(shortNumber(k.maxError)), "
        s += "argmax agrees on \(k.argmaxAgreement) of \(k.count).</p>"
        if k.layerMaxErrors.isEmpty {
            s += "<p>The models' layers differ: only outputs are compared.</p>"
        } else {
            s += "<table id=\"layer-errors\"><tr><th>layer</th><th class=\"num\">max abs error</th><th class=\"num\">max abs reference value</th></tr>"
            for l in k.layerMaxErrors {
                s += "<tr><td>\(escape(l.layer))</td><td class=\"num\">\(shortNumber(l.maxError))</td><td class=\"num\">\(shortNumber(l.maxReference))</td></tr>"
            }
            s += "</table>"
        }
        s += "<div class=\"charts\">" + SVGChart.bars(k.errors, title: "output error histogram", xLabel: "abs error of an output value", id: "error-histogram", colour: "#c0392b")
        s += SVGChart.logScatter(k.errorVersusMagnitude, title: "error versus reference magnitude", xLabel: "|reference|", yLabel: "|error|", id: "error-magnitude")
        return s + "</div></section>"
    }

    /// A PNG as a `data:` URI.
    ///
    /// - Throws: ``PNGFailure`` when the image cannot be encoded.
    public static func dataURI(_ image: RGBImage) throws(PNGFailure) -> String {
        "data:image/png;base64," + Data(try PNGEncoder.encode(image)).base64EncodedString()
    }
}

// A department handler's phone on the JVM, through the generated Kotlin bindings, against a
// real center (the same story as test_handler_scenario.py): a dispatched wage dispute (with
// a photo the worker uploaded after syncing) syncs in, its photo is fetched, the handler
// signs for it offline, records a mediation, resolves it with two
// installments, syncs; the center shows it resolved; the center revokes the device and the
// phone reports DEVICE_REVOKED. Observers and the sync status are checked on the way.
// Called from Scenario.kt's main when a server URL is given.

import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.UUID
import java.util.concurrent.CopyOnWriteArrayList
import org.gridsync.ffi.AgreementInput
import org.gridsync.ffi.CaseChange
import org.gridsync.ffi.CaseObserver
import org.gridsync.ffi.ChangeReason
import org.gridsync.ffi.EventKind
import org.gridsync.ffi.FieldClient
import org.gridsync.ffi.FieldException
import org.gridsync.ffi.FieldProblemKind
import org.gridsync.ffi.InstallmentInput
import org.gridsync.ffi.NewCase
import org.gridsync.ffi.PartyInput
import org.gridsync.ffi.ResolveInput
import org.gridsync.ffi.Role
import org.gridsync.ffi.Status
import org.gridsync.ffi.SyncState
import org.gridsync.ffi.SyncStatus
import org.gridsync.ffi.SyncStatusObserver
import org.gridsync.ffi.TaskKind
import org.gridsync.ffi.UploadState
import org.gridsync.ffi.fieldRules

const val HANDLER = "liu.labour"
const val DAY_MS = 86_400_000L

/** A center user over the HTTP API with a bearer token. */
class Staff(private val url: String, username: String) {
    private val http = HttpClient.newHttpClient()
    private var token: String? = null

    init {
        val reply = call("POST", "/v1/auth/login", """{"username":"$username","password":"$PASSWORD"}""")
        token = Regex("\"access_token\"\\s*:\\s*\"([^\"]+)\"").find(reply)?.groupValues?.get(1)
            ?: throw AssertionError("no access token in $reply")
    }

    fun call(method: String, path: String, json: String? = null, expect: Int = 200): String {
        val req = HttpRequest.newBuilder(URI.create(url.trimEnd('/') + path))
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .apply { token?.let { header("Authorization", "Bearer $it") } }
            .method(method, json?.let { HttpRequest.BodyPublishers.ofString(it) } ?: HttpRequest.BodyPublishers.noBody())
            .build()
        val resp = http.send(req, HttpResponse.BodyHandlers.ofString())
        ensure(resp.statusCode() == expect) { "center: $method $path -> ${resp.statusCode()} ${resp.body()}" }
        return resp.body()
    }

    fun bytes(path: String): ByteArray {
        val req = HttpRequest.newBuilder(URI.create(url.trimEnd('/') + path))
            .apply { token?.let { header("Authorization", "Bearer $it") } }
            .GET()
            .build()
        val resp = http.send(req, HttpResponse.BodyHandlers.ofByteArray())
        ensure(resp.statusCode() == 200) { "center: GET $path -> ${resp.statusCode()}" }
        return resp.body()
    }

    fun status(caseId: String): String =
        Regex("\"state\"\\s*:\\s*\\{\\s*\"status\"\\s*:\\s*\"([A-Z_]+)\"")
            .find(call("GET", "/v1/cases/$caseId"))?.groupValues?.get(1) ?: "?"
}

/** What the observer hears, in order (called on the client's notice thread). */
class Heard : CaseObserver {
    val changes = CopyOnWriteArrayList<Pair<String, ChangeReason>>()
    override fun casesChanged(changes: List<CaseChange>) {
        changes.forEach { this.changes.add(it.caseId to it.reason) }
    }

    fun drain(phone: FieldClient): List<Pair<String, ChangeReason>> {
        ensure(phone.flushObservers(10_000uL)) { "observer notices not delivered in 10 s" }
        val out = changes.toList()
        changes.clear()
        return out
    }
}

class Statuses : SyncStatusObserver {
    val seen = CopyOnWriteArrayList<SyncStatus>()
    override fun syncStatusChanged(status: SyncStatus) {
        seen.add(status)
    }
}

/** The JSON bodies of an evidence bundle's records (docs/bundle.md); framing only, the
 * signatures are `gridsync verify`'s to check. */
fun bundleRecords(raw: ByteArray): List<String> {
    ensure(String(raw, 0, 8, Charsets.US_ASCII) == "GSBUNDLE" && raw[8] == 1.toByte()) { "not a bundle" }
    val out = mutableListOf<String>()
    var at = 9
    while (at < raw.size) {
        val n = java.nio.ByteBuffer.wrap(raw, at, 4).int
        out += String(raw, at + 4, n, Charsets.UTF_8)
        at += 4 + n + 64
    }
    ensure(at == raw.size) { "bundle framing" }
    return out
}

/** The devices whose keys signed the changes `device` pushed to `caseId`, as the county's
 * county dispatcher's copy of the evidence bundle says. */
fun signersOf(url: String, caseId: String, device: String): Set<String> {
    val records = bundleRecords(Staff(url, "chen.dispatch").bytes("/v1/cases/$caseId/bundle"))
    fun field(json: String, name: String) =
        Regex("\"$name\"\\s*:\\s*\"([^\"]*)\"").find(json)?.groupValues?.get(1)
    val keyDevice = records.filter { field(it, "kind") == "key" }
        .associate { field(it, "public_key") to field(it, "device_id") }
    return records.filter { field(it, "kind") == "change" && field(it, "device_id") == device }
        .map { r ->
            val signer = field(r, "signer")
            ensure(signer != null && field(r, "signature") != null) { "an unsigned change from $device: $r" }
            keyDevice[signer] ?: "?"
        }.toSet()
}

fun handlerScenario(url: String, dir: java.nio.file.Path) {
    var attachmentId = ""
    var evidence = ByteArray(0)
    step("handler: a grid worker files a wage dispute; the center dispatches it to labour")
    val workerDevice = "jvm-worker-${UUID.randomUUID()}"
    val case = FieldClient.open(dir.resolve("worker.db").toString(), workerDevice, newKey()).use { w ->
        w.login(url, WORKER, PASSWORD)
        val id = w.recordCase(
            NewCase(
                title = "饭店拖欠帮工工资",
                category = "LABOUR_WAGES",
                riskLevel = "YELLOW",
                parties = listOf(PartyInput(name = "孙八"), PartyInput(name = "某饭店", role = "RESPONDENT")),
            ),
        )
        // A photo of the IOU: attached offline, uploaded after the sync, progress observed.
        val iou = byteArrayOf(0xFF.toByte(), 0xD8.toByte(), 0xFF.toByte(), 0xE0.toByte()) +
            ByteArray(200_000) { (it * 31 % 251).toByte() }
        val photo = w.attachBytes(id, iou, "PHOTO", "image/jpeg", "欠条")
        w.submitCase(id)
        ensure(w.evidenceUploads().single().state == UploadState.WAITING_FOR_SYNC) { "waits for the sync" }
        ensure(w.sync().rejected.isEmpty()) { "worker's case refused" }
        val up = w.uploadEvidence()
        ensure(up.completed == 1u && up.remaining == 0u && up.bytesSent == iou.size.toULong()) { "upload $up" }
        ensure(w.evidenceUploads().single().state == UploadState.DONE) { "uploaded" }
        attachmentId = photo.id
        evidence = iou
        id
    }
    // Every change the worker's phone pushed arrived signed with the key it registered.
    ensure(signersOf(url, case, workerDevice) == setOf(workerDevice)) { "the worker's changes are not signed by its phone" }
    val dispatcher = Staff(url, DISPATCHER)
    if (dispatcher.status(case) == "SUBMITTED") {
        dispatcher.call("POST", "/v1/cases/$case/actions", """{"kind":"ACCEPT","payload":{}}""")
    }
    if (dispatcher.status(case) != "DISPATCHED") {
        dispatcher.call(
            "POST", "/v1/cases/$case/actions",
            """{"kind":"DISPATCH","payload":{"to":[{"id":"$LABOUR_ID","name":"$LABOUR_NAME"}],"tier":"COUNTY"}}""",
        )
    }

    val device = "jvm-handler-${UUID.randomUUID()}"
    FieldClient.open(dir.resolve("handler.db").toString(), device, newKey()).use { phone ->
        val heard = Heard()
        val statuses = Statuses()
        phone.addCaseObserver(heard)
        phone.addSyncStatusObserver(statuses)
        ensure(phone.syncStatus().state == SyncState.SIGN_IN_NEEDED) { "before sign-in: ${phone.syncStatus()}" }

        step("handler: sign in and sync; the dispatch arrives")
        val s = phone.login(url, HANDLER, PASSWORD)
        ensure(s.role == Role.DEPARTMENT_HANDLER && s.orgId == LABOUR_ID) { "session $s" }
        val report = phone.sync()
        ensure(case in report.newCases) { "new cases: $report" }
        ensure((case to ChangeReason.SYNCED_IN) in heard.drain(phone)) { "observer heard the dispatch" }
        ensure(phone.tasks().filter { it.caseId == case }.map { it.kind } == listOf(TaskKind.SIGN)) {
            "tasks ${phone.tasks()}"
        }
        val fetched = phone.evidenceBytes(case, attachmentId)
        ensure(fetched.contentEquals(evidence)) { "the handler fetched the IOU's bytes" }
        val allowed = phone.allowedActions(case)
        ensure(EventKind.SIGN_FOR in allowed && EventKind.DISPATCH !in allowed) { "allowed $allowed" }

        step("handler offline: sign for, mediate, start, resolve with installments")
        val now = System.currentTimeMillis()
        phone.signFor(case)
        phone.addNoteOfKind(case, "MEDIATION_FACE_TO_FACE", "面对面调解，饭店同意分两期支付")
        phone.startHandling(case)
        expectError<FieldException.InvalidInput>("invalid_action") {
            phone.resolve(case, ResolveInput(success = true, outcome = " ", agreement = null))
        }
        phone.resolve(
            case,
            ResolveInput(
                success = true,
                outcome = "调解成功，饭店分两期支付",
                agreement = AgreementInput(
                    form = "WRITTEN",
                    terms = "饭店分两期支付工资",
                    signedAt = now,
                    installments = listOf(
                        InstallmentInput(dueAt = now + 10 * DAY_MS, amount = 300_000),
                        InstallmentInput(dueAt = now + 40 * DAY_MS, amount = 300_000),
                    ),
                ),
            ),
        )
        ensure(phone.caseDetail(case).status == Status.RESOLVED) { "resolved on the phone" }
        val local = heard.drain(phone).map { it.second }
        ensure(local == listOf(ChangeReason.STEP_TAKEN, ChangeReason.EDITED, ChangeReason.STEP_TAKEN, ChangeReason.STEP_TAKEN)) {
            "observer heard $local"
        }

        step("handler: sync; status SYNCING -> IDLE; the center shows it resolved")
        ensure(phone.flushObservers(10_000uL)) { "flush" }
        statuses.seen.clear()
        val up = phone.sync()
        ensure(up.rejected.isEmpty() && up.unsentChanges == 0u) { "sync $up" }
        ensure(phone.flushObservers(10_000uL)) { "flush" }
        val states = statuses.seen.map { it.state }
        ensure(states.first() == SyncState.SYNCING && states.last() == SyncState.IDLE) { "states $states" }
        ensure(phone.syncStatus().lastSuccessAt != null) { "last success" }
        ensure(dispatcher.status(case) == "RESOLVED") { "center status ${dispatcher.status(case)}" }
        val detail = dispatcher.call("GET", "/v1/cases/$case")
        ensure(listOf("SIGN_FOR", "START_HANDLING", "RESOLVE").all { "\"$it\"" in detail }) { "center timeline" }

        step("handler: a too-long title is refused with the center's code")
        val long = "标".repeat(101)
        expectError<FieldException.InvalidInput>("invalid_input") {
            phone.recordCase(NewCase(title = long, category = "OTHER"))
        }
        val problems = phone.checkNewCase(NewCase(title = long, category = "OTHER"))
        ensure(problems.map { Triple(it.field, it.kind, it.code) } == listOf(Triple("title", FieldProblemKind.TOO_LONG, "invalid_input"))) {
            "problems $problems"
        }
        ensure(fieldRules().first { it.field == "title" }.maxChars == 100u) { "title rule" }
        val refused = dispatcher.call("POST", "/v1/cases", """{"area_code":"$VILLAGE","title":"$long"}""", expect = 400)
        ensure("\"invalid_input\"" in refused) { "center: $refused" }

        step("handler: the center revokes the device")
        Staff(url, "admin").call("POST", "/v1/devices/$device/revoke", "{}")
        expectError<FieldException.DeviceRevoked>("device_revoked") { phone.sync() }
        ensure(phone.syncStatus().state == SyncState.DEVICE_REVOKED) { "status ${phone.syncStatus()}" }
        ensure(phone.nextSyncAfter() == null) { "no retries after revocation" }
        ensure((case to ChangeReason.REVOKED) in heard.drain(phone)) { "observer heard the wipe" }
        ensure(phone.observerFailures() == 0uL) { "listener failures" }
    }
}

"""The page's words in English and French, chosen from the browser's Accept-Language.

Keys are the English text (titles, labels and notes the server writes); a missing French entry shows the English.
Values (names, numbers, amounts) are data and are never translated; phrases (domain.approval.Phrase) are
translated by their English template, their typed slots formatted for the language by Babel.
"""

from __future__ import annotations

from ...cleavr.contract import MISSING_PHONE_MESSAGE, SUCCESS_RATE_WITH_PHONE, SUCCESS_RATE_WITHOUT_PHONE

_PHONE_FR = (f"Sans téléphone, le taux de succès passe de {SUCCESS_RATE_WITH_PHONE} % à "
             f"{SUCCESS_RATE_WITHOUT_PHONE} %.")

FR: dict[str, str] = {
    # page furniture
    "Approval requested": "Validation demandée",
    "Approve": "Valider",
    "Decline": "Refuser",
    "Approve with this phone": "Valider avec ce téléphone",
    "Approve without a phone": "Valider sans téléphone",
    "Debtor phone": "Téléphone du débiteur",
    "Debtor email (required by Cleavr)": "E-mail du débiteur (exigé par Cleavr)",
    "Amount still due (EUR)": "Montant restant dû (EUR)",
    "Also send the ones without a phone": "Envoyer aussi ceux sans téléphone",
    "Documents": "Documents",
    "File": "Fichier",
    "Size": "Taille",
    "SHA-256 (start)": "SHA-256 (début)",
    "Your access token (the one your MCP client uses)": "Votre jeton d'accès (celui de votre client MCP)",
    "Sign-in is required: this link may have reached you through the assistant, so only your own credential "
    "can approve.": "Connexion requise : ce lien a pu vous parvenir par l'assistant ; seul votre propre identifiant "
    "peut valider.",
    "Nothing is sent until you press Approve.": "Rien n'est envoyé tant que vous n'avez pas appuyé sur Valider.",
    "Approved. You can close this page and return to the assistant.":
        "Validé. Vous pouvez fermer cette page et revenir à l'assistant.",
    "Declined. Nothing was sent. You can close this page.": "Refusé. Rien n'a été envoyé. Vous pouvez fermer cette page.",
    "This request has expired. Nothing was sent; ask the assistant to try again.":
        "Cette demande a expiré. Rien n'a été envoyé ; demandez à l'assistant de recommencer.",
    "This approval link is not valid.": "Ce lien de validation n'est pas valide.",
    "Expires at": "Expire à",
    "Please check the highlighted field.": "Vérifiez le champ signalé.",
    "Enter a valid phone number, or choose Approve without a phone.":
        "Saisissez un numéro valide, ou choisissez Valider sans téléphone.",
    "Enter a valid email address.": "Saisissez une adresse e-mail valide.",
    "Enter the amount in EUR with cents, e.g. 3290.00.": "Saisissez le montant en EUR avec centimes, ex. 3290.00.",
    "This credential does not belong to the person who asked for this write.":
        "Cet identifiant n'appartient pas à la personne qui a demandé cette opération.",
    "The form was out of date. Please review and try again.": "Le formulaire n'était plus valable. Relisez et recommencez.",
    # sign-in on the page (link mode)
    "Sign in to decide": "Connectez-vous pour décider",
    "This link may have reached you through the assistant, so only you, signed in, can approve or decline.":
        "Ce lien a pu vous parvenir par l'assistant : vous seul, une fois connecté, pouvez valider ou refuser.",
    "One-time sign-in code": "Code de connexion à usage unique",
    "Get a code from your organisation's dashboard, or ask whoever runs this server (cleavr-mcp approvals "
    "sign-in-code).": "Obtenez un code dans le tableau de bord de votre organisation, ou auprès de qui gère ce "
    "serveur (cleavr-mcp approvals sign-in-code).",
    "or": "ou",
    "Sign in with": "Se connecter avec",
    "You are signed in: your decision counts as your own.": "Vous êtes connecté : votre décision compte comme la vôtre.",
    "This sign-in code is not valid. Check it, or ask for a new one.":
        "Ce code de connexion n'est pas valable. Vérifiez-le, ou demandez-en un nouveau.",
    "Too many wrong sign-in codes from this network. Wait 15 minutes.":
        "Trop de codes erronés depuis ce réseau. Patientez 15 minutes.",
    "Too many wrong sign-in codes: this request is locked and nothing was sent. Ask the assistant to try again.":
        "Trop de codes erronés : cette demande est bloquée et rien n'a été envoyé. Demandez à l'assistant de "
        "recommencer.",
    "Opening the approval page…": "Ouverture de la page de validation…",
    "Signed in. Opening the approval page…": "Connecté. Ouverture de la page de validation…",
    "Continue": "Continuer",
    "The sign-in did not succeed. Go back to the approval link and try again, or use a sign-in code.":
        "La connexion a échoué. Revenez au lien de validation et recommencez, ou utilisez un code de connexion.",
    "This account may not approve writes on this server.": "Ce compte ne peut pas valider d'opérations sur ce serveur.",
    "The sign-in provider cannot be reached. Use a sign-in code instead.":
        "Le fournisseur de connexion est injoignable. Utilisez plutôt un code de connexion.",
    # titles
    "Submit this unpaid invoice to Cleavr for debt recovery?": "Confier cette facture impayée à Cleavr pour recouvrement ?",
    "Submit these receivables to Cleavr for debt recovery?": "Confier ces créances à Cleavr pour recouvrement ?",
    "Cancel this recovery?": "Annuler ce recouvrement ?",
    "Send this evidence to Cleavr for the dispute?": "Envoyer ces justificatifs à Cleavr pour le litige ?",
    "Decide on this partial payment?": "Décider de ce paiement partiel ?",
    "Recover this CleverInvo invoice through Cleavr?": "Recouvrer cette facture CleverInvo via Cleavr ?",
    "Recover these CleverInvo invoices through Cleavr?": "Recouvrer ces factures CleverInvo via Cleavr ?",
    "Add this contact to the debtor? Cleavr will contact this person.":
        "Ajouter ce contact au débiteur ? Cleavr contactera cette personne.",
    "Change this receivable's CleverInvo link?": "Modifier le lien CleverInvo de cette créance ?",
    # labels
    "Environment": "Environnement",
    "Debtor": "Débiteur",
    "Invoice(s)": "Facture(s)",
    "Amount incl. tax": "Montant TTC",
    "Issued": "Émise le",
    "Due": "Échéance",
    "Days overdue": "Jours de retard",
    "Commission": "Commission",
    "You receive": "Vous recevez",
    "Receivables": "Créances",
    "Total": "Total",
    "Commission if all recovered": "Commission si tout est recouvré",
    "Invalid (not sent)": "Invalides (non envoyées)",
    "Receivable": "Créance",
    "Status": "Statut",
    "Reason": "Motif",
    "Notes": "Notes",
    "Statement": "Déclaration",
    "Paid": "Payé",
    "Remaining": "Restant",
    "Decision": "Décision",
    "Contact": "Contact",
    "New email": "Nouvel e-mail",
    "New phone": "Nouveau téléphone",
    "Level": "Niveau",
    "Metadata": "Métadonnées",
    "Invoice": "Facture",
    "Client": "Client",
    "Amount": "Montant",
    "Fee": "Frais",
    "Phone": "Téléphone",
    "Email": "E-mail",
    "#": "n°",
    # notes
    "This is final: Cleavr stops every recovery action and the receivable cannot be reopened.":
        "C'est définitif : Cleavr arrête toute action et la créance ne peut pas être rouverte.",
    "This decides whether a CleverInvo invoice counts as already sent to Cleavr (list_overdue_invoices hides "
    "it, recover_invoice will not send it).": "Cela décide si une facture CleverInvo compte comme déjà envoyée à "
    "Cleavr (list_overdue_invoices la masque, recover_invoice ne l'enverra pas).",
    "Cleavr forwards the evidence and resumes recovery.": "Cleavr transmet les justificatifs et reprend le recouvrement.",
    f"No debtor phone. {MISSING_PHONE_MESSAGE} Enter a phone, or choose to proceed without one.":
        f"Pas de téléphone du débiteur. {_PHONE_FR} Saisissez un téléphone, ou choisissez de continuer sans.",
    "No debtor email: Cleavr requires one; enter it below.": "Pas d'e-mail du débiteur : Cleavr en exige un ; saisissez-le ci-dessous.",
    **{  # phrases with typed slots (domain.approval.Phrase): {names} are money, rates, counts or data, never words
        "Check": "À vérifier",
        "{rate} = {commission}, you receive {net} ({tier})": "{rate} = {commission}, vous recevez {net} ({tier})",
        "{rate} of what Cleavr recovers ({tier})": "{rate} de ce que Cleavr recouvre ({tier})",
        "{low}-{high} days": "{low} à {high} jours",
        "{low}+ days": "{low} jours et plus",
        f"{{count}} have no debtor phone. {MISSING_PHONE_MESSAGE}": f"{{count}} sans téléphone du débiteur. {_PHONE_FR}",
        f"{{count}} have no debtor phone. {MISSING_PHONE_MESSAGE} They are sent only if you agree to proceed without "
        "a phone; otherwise they are skipped.": f"{{count}} sans téléphone du débiteur. {_PHONE_FR} Elles ne sont "
        "envoyées que si vous acceptez de continuer sans téléphone ; sinon elles sont ignorées.",
        "Not sent: {count} that cannot be recovered as they are ({reasons}).":
            "Non envoyées : {count} qui ne peuvent pas être recouvrées en l'état ({reasons}).",
        "{count} not in EUR": "{count} pas en EUR",
        "{count} without a client email": "{count} sans e-mail client",
        "{count} with an unknown amount due": "{count} au montant restant dû inconnu",
        "{count} with nothing due": "{count} sans montant dû",
        "{count} with data Cleavr would refuse": "{count} aux données que Cleavr refuserait",
        "see results": "voir les résultats",
        "Already on Cleavr, not sent again: {count}.": "Déjà sur Cleavr, non renvoyées : {count}.",
        "Partially paid: CleverInvo says {paid} of {total} was paid, so {due} is still due.":
            "Paiement partiel : selon CleverInvo, {paid} sur {total} ont été payés ; il reste donc {due} à payer.",
        "Payments: CleverInvo says {paid} of {total} was paid, so {due} is still due.":
            "Paiements : selon CleverInvo, {paid} sur {total} ont été payés ; il reste donc {due} à payer.",
        "Partially paid: CleverInvo does not say how much was paid.":
            "Paiement partiel : CleverInvo n'indique pas combien a été payé.",
        "Amount Cleavr would recover: {due}.": "Montant que Cleavr recouvrerait : {due}.",
        "Enter the amount still due below.": "Saisissez ci-dessous le montant restant dû.",
        # the CleverInvo mapping's notes (cleverinvo.mapping.Note)
        "Before-tax and tax amounts are inconsistent on the invoice: only the total is sent.":
            "Les montants HT et TVA de la facture sont incohérents : seul le total est envoyé.",
        "Before-tax and tax amounts are prorated to the amount still due.":
            "Les montants HT et TVA sont calculés au prorata du montant restant dû.",
        "Address {address!r} could not be split into street, postcode and city: kept in metadata.":
            "L'adresse {address!r} n'a pas pu être découpée en rue, code postal et ville : conservée dans les "
            "métadonnées.",
        "Tax id {value} is a SIREN (company), not a SIRET (establishment): kept in metadata.":
            "L'identifiant fiscal {value} est un SIREN (entreprise), pas un SIRET (établissement) : conservé dans "
            "les métadonnées.",
        "Tax id {value!r} looks French but its checksum fails: not sent as SIRET/VAT.":
            "L'identifiant fiscal {value!r} semble français mais sa clé de contrôle est fausse : non envoyé comme "
            "SIRET/TVA.",
        "Tax id {value!r} is not a French SIRET/SIREN/VAT number: kept in metadata.":
            "L'identifiant fiscal {value!r} n'est pas un numéro SIRET/SIREN/TVA français : conservé dans les "
            "métadonnées.",
        "Phone {phone!r} is not a valid number: dropped.": "Le téléphone {phone!r} n'est pas un numéro valide : ignoré.",
    },
}


def pick_language(accept_language: str | None) -> str:
    """'fr' or 'en': the first of the two the browser prefers (q-values respected), English by default."""
    best: tuple[float, str] | None = None
    for index, part in enumerate((accept_language or "").split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        q = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        lang = tag.split("-")[0]
        if lang in ("fr", "en") and q > 0 and (best is None or q > best[0]):
            best = (q, lang)
        del index
    return best[1] if best else "en"


def translate(lang: str, text: str) -> str:
    if lang == "fr":
        if text in FR:
            return FR[text]
        # Notes the server writes with a variable part after a fixed prefix keep the English (still server text).
    return text
